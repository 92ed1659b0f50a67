"""One audit record and its canonical bytes.

A record is a frozen value. Its canonical form is the UTF-8 encoding of::

    json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
               allow_nan=False)

where ``body`` holds exactly the keys ``v`` (the format version, 1), ``seq``, ``time``,
``actor``, ``action``, ``bucket``, ``key``, ``version``, ``sites``, ``policy``, ``result``,
``detail`` and ``prev``. The record's hash is the lowercase hex SHA-256 of those bytes; the
next record carries it as ``prev``. No floats appear anywhere: ``time`` is an integer number
of microseconds since the Unix epoch (UTC), and ``detail`` values are strings, integers,
booleans or null. Integers stay within ±(2**53 - 1) so every JSON reader agrees on them.
``docs/audit.md`` spells the format out byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

from domicile.errors import AuditFormatError

#: The version of the record format, written as ``"v"`` in every record.
FORMAT_VERSION = 1
#: The ``prev`` of the first record (seq 1): 64 zeros.
ZERO = "0" * 64

#: A value allowed in ``Record.detail``.
Scalar = str | int | bool | None

MAX_INT = 2**53 - 1
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DETAIL_KEY = re.compile(r"[a-z0-9_.-]{1,64}")
_HINT = "records are written by domicile; a malformed one means the log or export was edited"


def _fail(message: str, **context: Any) -> AuditFormatError:
    return AuditFormatError(message, hint=_HINT, operation="audit-record", **context)


def _check_int(name: str, value: object, minimum: int) -> None:
    if type(value) is not int or not minimum <= value <= MAX_INT:
        raise _fail(f"{name} must be an integer in [{minimum}, 2**53-1], got {value!r}")


def _check_text(name: str, value: object, *, optional: bool) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise _fail(f"{name} must be a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _fail(f"{name} is not valid Unicode (lone surrogate)") from exc


def _check_detail(detail: Mapping[str, Scalar]) -> None:
    for k, v in detail.items():
        if not isinstance(k, str) or not _DETAIL_KEY.fullmatch(k):
            raise _fail(f"detail key {k!r} must match [a-z0-9_.-]{{1,64}}")
        if isinstance(v, bool) or v is None:
            continue
        if isinstance(v, int):
            _check_int(f"detail[{k!r}]", v, -MAX_INT)
        else:
            _check_text(f"detail[{k!r}]", v, optional=False)


@dataclass(frozen=True, eq=True)
class Record:
    """One audit event, chained to the one before it.

    ``seq`` counts from 1 with no gaps. ``time`` is integer microseconds since the epoch.
    ``actor`` is who acted (``tenant:access-key`` or ``cli:user``); ``action`` what was done
    (``put``, ``delete``, ``place``, ``get``, ...); ``bucket``/``key``/``version`` what it was
    done to (null when not applicable); ``sites`` where bytes went or were removed;
    ``policy`` the policy name and version in force; ``result`` the outcome (``ok``,
    ``refused``, ``error``); ``detail`` extra scalar facts; ``prev`` the hash of the
    previous record (:data:`ZERO` for seq 1).

    Construction validates every field and raises :class:`AuditFormatError` on a bad one,
    so a record that exists can always be encoded. :attr:`hash` is computed, never stored.
    """

    seq: int
    time: int
    actor: str
    action: str
    bucket: str | None
    key: str | None
    version: str | None
    sites: tuple[str, ...]
    policy: str | None
    result: str
    prev: str
    detail: Mapping[str, Scalar] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_int("seq", self.seq, 1)
        _check_int("time", self.time, 0)
        for name in ("actor", "action", "result"):
            _check_text(name, getattr(self, name), optional=False)
        for name in ("bucket", "key", "version", "policy"):
            _check_text(name, getattr(self, name), optional=True)
        if not isinstance(self.sites, tuple | list):
            raise _fail(f"sites must be a sequence of site names, got {self.sites!r}")
        for site in self.sites:
            _check_text("sites[]", site, optional=False)
        if not isinstance(self.prev, str) or not _HEX64.fullmatch(self.prev):
            raise _fail(f"prev must be 64 lowercase hex digits, got {self.prev!r}")
        if not isinstance(self.detail, Mapping):
            raise _fail(f"detail must be a mapping, got {type(self.detail).__name__}")
        _check_detail(self.detail)
        object.__setattr__(self, "sites", tuple(self.sites))
        object.__setattr__(self, "detail", MappingProxyType(dict(sorted(self.detail.items()))))

    def __hash__(self) -> int:
        return hash(self.hash)

    def body(self) -> dict[str, Any]:
        """The JSON object whose canonical encoding is hashed (a fresh dict)."""
        return {
            "v": FORMAT_VERSION,
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "bucket": self.bucket,
            "key": self.key,
            "version": self.version,
            "sites": list(self.sites),
            "policy": self.policy,
            "result": self.result,
            "detail": dict(self.detail),
            "prev": self.prev,
        }

    @cached_property
    def canonical(self) -> bytes:
        """The canonical bytes of this record (see the module docstring)."""
        return encode_canonical(self.body())

    @cached_property
    def hash(self) -> str:
        """Lowercase hex SHA-256 of :attr:`canonical`."""
        return hashlib.sha256(self.canonical).hexdigest()

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> Record:
        """Rebuild a record from :meth:`body` output; raises :class:`AuditFormatError`."""
        expected = set(_FIELDS) | {"v"}
        if set(body) != expected:
            missing, extra = sorted(expected - set(body)), sorted(set(body) - expected)
            raise _fail(f"record fields differ from format v1 (missing {missing}, extra {extra})")
        if body["v"] != FORMAT_VERSION:
            raise _fail(
                f"record format v{body['v']!r} is not supported (this domicile reads v1)",
                seq=body.get("seq"),
            )
        if not isinstance(body["sites"], list):
            raise _fail(f"sites must be a list, got {body['sites']!r}", seq=body.get("seq"))
        values = {name: body[name] for name in _FIELDS}
        values["sites"] = tuple(values["sites"])
        return cls(**values)


_FIELDS = (
    "seq",
    "time",
    "actor",
    "action",
    "bucket",
    "key",
    "version",
    "sites",
    "policy",
    "result",
    "prev",
    "detail",
)


def encode_canonical(obj: Mapping[str, Any]) -> bytes:
    """Canonical JSON: sorted keys, no whitespace, UTF-8, non-ASCII kept as is, no NaN."""
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_bytes(record: Record) -> bytes:
    """The exact bytes hashed for ``record`` (its ``prev`` included, its own hash not)."""
    return record.canonical


class Link(NamedTuple):
    """What the chain check needs of one record: where it sits, what it links to, its
    hash, and the canonical bytes both are computed from (a tree leaf hashes them too)."""

    seq: int
    prev: str
    hash: str
    canonical: bytes


_KEYS = frozenset(_FIELDS) | {"v"}
_OPTIONAL = ("bucket", "key", "version", "policy")


def link_of(text: str | bytes) -> Link:
    """The :class:`Link` of a record stored as JSON ``text`` (any spelling: its canonical
    bytes are recomputed). Exactly as strict as :meth:`Record.from_body` (which raises the
    :class:`AuditFormatError` for a body this fast path does not accept), several times
    cheaper: no :class:`Record` is built for the common, well-formed body."""
    body = json.loads(text)
    if not _plainly_valid(body):
        record = Record.from_body(body)  # raises, naming what is wrong
        return Link(record.seq, record.prev, record.hash, record.canonical)
    try:
        canonical = encode_canonical(body)
    except UnicodeEncodeError:  # a lone surrogate somewhere: let the record say where
        record = Record.from_body(body)
        return Link(record.seq, record.prev, record.hash, record.canonical)
    return Link(body["seq"], body["prev"], hashlib.sha256(canonical).hexdigest(), canonical)


def _plainly_valid(body: Any) -> bool:  # noqa: PLR0911, PLR0912 (one answer per rule)
    """True when ``body`` is a well-formed v1 body whose canonical encoding is that of the
    :class:`Record` built from it (every check of :meth:`Record.from_body` and
    ``Record.__post_init__`` but the Unicode one, which encoding the body makes); False
    sends it to the slow path, which raises the precise error."""
    if type(body) is not dict or body.keys() != _KEYS:
        return False
    v, seq, time = body["v"], body["seq"], body["time"]
    if type(v) is not int or v != FORMAT_VERSION:
        return False
    if type(seq) is not int or not 1 <= seq <= MAX_INT:
        return False
    if type(time) is not int or not 0 <= time <= MAX_INT:
        return False
    if not (type(body["actor"]) is str and type(body["action"]) is str):
        return False
    if type(body["result"]) is not str:
        return False
    for name in _OPTIONAL:
        value = body[name]
        if value is not None and type(value) is not str:
            return False
    sites, prev, detail = body["sites"], body["prev"], body["detail"]
    if type(sites) is not list or any(type(site) is not str for site in sites):
        return False
    if type(prev) is not str or not _HEX64.fullmatch(prev):
        return False
    if type(detail) is not dict:
        return False
    for k, value in detail.items():
        if not _DETAIL_KEY.fullmatch(k):
            return False
        kind = type(value)
        if kind is int:
            if not -MAX_INT <= value <= MAX_INT:
                return False
        elif not (kind is str or kind is bool or value is None):
            return False
    return True
