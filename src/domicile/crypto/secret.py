"""A string that never shows its value by accident."""

from __future__ import annotations

import hmac
from typing import NoReturn

REDACTED = "**redacted**"


class Secret:
    """Wraps a secret string (a passphrase, an ``AGE-SECRET-KEY-1...`` identity).

    ``str()``, ``repr()`` and ``format()`` all give ``**redacted**``, so a secret that lands
    in a log line, an exception message or a traceback's locals shows nothing. Only
    :meth:`reveal` returns the value; call it at the last moment, where the value is used.
    Secrets cannot be pickled (that would write the value somewhere) and compare by value
    in constant time.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError("Secret wraps a str")
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return format(REDACTED, spec)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")


def as_secret(value: Secret | str) -> Secret:
    """``value`` as a :class:`Secret` (wrapping a plain string)."""
    return value if isinstance(value, Secret) else Secret(value)
