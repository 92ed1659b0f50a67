"""ISO 3166-1 alpha-2 country codes (shipped as data) and "did you mean" suggestions.

The code list is ``data/iso3166.tsv``; it is read once, on first use. Codes are upper case;
:func:`normalize_country` accepts any case and returns the canonical code or ``None``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from types import MappingProxyType


@cache
def countries() -> Mapping[str, str]:
    """Every officially assigned ISO 3166-1 alpha-2 code, mapped to a short English name."""
    text = resources.files("domicile.policy").joinpath("data/iso3166.tsv").read_text("utf-8")
    table: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, _, name = line.partition("\t")
        table[code.strip()] = name.strip()
    return MappingProxyType(table)


def normalize_country(text: str) -> str | None:
    """The canonical alpha-2 code for ``text`` (any case), or ``None`` if it is not one."""
    code = text.strip().upper()
    return code if code in countries() else None


#: Common non-ISO spellings and what they mean.
ALIASES: Mapping[str, str] = MappingProxyType({"UK": "GB", "EL": "GR", "KO": "XK"})


def suggest(word: str, choices: Iterable[str], *, what: str) -> str:
    """A hint naming the closest ``choices`` to ``word`` (difflib), or listing a few valid ones.

    Country names are matched too (``"Germany"`` proposes ``'DE'``) and common aliases are
    known (``"UK"`` proposes ``'GB'``, the EU's ``"EL"`` proposes ``'GR'``).
    """
    options = sorted(set(choices))
    upper = {o.upper(): o for o in options}
    key = word.strip().upper()
    picked: list[str] = []
    if key in ALIASES and ALIASES[key] in upper:
        picked.append(ALIASES[key])
    picked += [upper[c] for c in difflib.get_close_matches(key, list(upper), n=3, cutoff=0.6)]
    by_name = {name.upper(): code for code, name in countries().items() if code in upper}
    picked += [by_name[n] for n in difflib.get_close_matches(key, list(by_name), n=2, cutoff=0.7)]
    picked = list(dict.fromkeys(picked))
    if picked:
        return "did you mean " + " or ".join(repr(p) for p in picked) + "?"
    sample = ", ".join(options[:8]) + (", ..." if len(options) > 8 else "")
    return f"expected {what}, one of: {sample}"
