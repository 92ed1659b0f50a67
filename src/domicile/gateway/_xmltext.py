"""XML text escaping shared by the error and response encoders."""

from __future__ import annotations

import re

# Characters XML 1.0 cannot carry at all (C0 controls but TAB, LF, CR; surrogates; FFFE/FFFF).
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;"})


def xml_text(value: str) -> str:
    """``value`` escaped for XML element text; characters XML cannot carry become U+FFFD.

    Carriage returns are written as ``&#13;`` so that parsers do not normalise them away.
    Keys that hold such characters should be sent with ``encoding-type=url`` instead.
    """
    return _INVALID.sub("\ufffd", value).translate(_ESCAPES)


def element(name: str, value: str) -> str:
    """``<name>value</name>`` with ``value`` escaped."""
    return f"<{name}>{xml_text(value)}</{name}>"
