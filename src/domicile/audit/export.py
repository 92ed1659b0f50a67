"""JSON Lines export and import of an audit log, for offline verification.

An export is UTF-8 text, one JSON object per line, each with a ``"type"``:

- first, one ``{"type":"header","format":"domicile-audit-export","version":1}``;
- ``{"type":"record", ...}``: the record's body (see :mod:`domicile.audit.record`) plus
  ``type``. Dropping ``type`` gives back exactly the body that is hashed; no hash is
  stored, the verifier recomputes them all;
- ``{"type":"checkpoint","seq":...,"head":...,"time":...,"key_id":...,"signature":...}``;
- ``{"type":"tree","note":"<signed tree checkpoint note, with its cosignatures>"}``: the
  transparency-log checkpoints (docs/transparency.md), checked by
  :func:`domicile.audit.proofs.verify_tree_notes` against the records.

Each line is canonical JSON, except that U+0085, U+2028 and U+2029 are written as
``\\u`` escapes so that no splitter breaks a line inside a string; an export of the same
log is therefore always the same bytes, and any line splitter works. Records and
checkpoints may interleave; the verifier only needs the export and the public key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from domicile.audit.checkpoint import Checkpoint
from domicile.audit.record import Record, encode_canonical
from domicile.errors import AuditFormatError

EXPORT_FORMAT = "domicile-audit-export"
EXPORT_VERSION = 1


def export_lines(
    records: Iterable[Record], checkpoints: Iterable[Checkpoint], trees: Iterable[str] = ()
) -> Iterator[str]:
    """Yield the header, then every record, then every checkpoint, then every tree
    checkpoint note: one line each, with no trailing newline (the caller joins them with
    ``"\\n"``)."""
    yield _line({"type": "header", "format": EXPORT_FORMAT, "version": EXPORT_VERSION})
    for record in records:
        yield _line({"type": "record", **record.body()})
    for cp in checkpoints:
        yield _line({"type": "checkpoint", **cp.to_dict()})
    for note in trees:
        yield _line({"type": "tree", "note": note})


# Characters that str.splitlines() treats as line ends but JSON leaves unescaped.
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _line(obj: dict[str, Any]) -> str:
    return encode_canonical(obj).decode("utf-8").translate(_LINE_BREAKS)


def parse_lines(lines: Iterable[str | bytes]) -> tuple[list[Record], list[Checkpoint]]:
    """The records and checkpoints of an export (see :func:`parse_export`, which also
    returns its tree checkpoint notes)."""
    records, checkpoints, _ = parse_export(lines)
    return records, checkpoints


def parse_export(
    lines: Iterable[str | bytes],
) -> tuple[list[Record], list[Checkpoint], list[str]]:
    """Parse an export (any iterable of lines, e.g. an open file) in the order given.

    Blank lines are skipped. A malformed line raises :class:`AuditFormatError` naming its
    line number: a line that is not JSON, lacks a known ``type``, or whose fields break the
    format. Tampering that keeps the format (changed values, missing or moved records) is
    not an error here: :func:`~domicile.audit.verify.verify_chain` reports it.
    """
    records: list[Record] = []
    checkpoints: list[Checkpoint] = []
    trees: list[str] = []
    for number, raw in enumerate(lines, start=1):
        text = _decode(raw, number)
        if not text.strip():
            continue
        obj = _parse_object(text, number)
        kind = obj.pop("type", None)
        try:
            if kind == "record":
                records.append(Record.from_body(obj))
            elif kind == "checkpoint":
                checkpoints.append(Checkpoint.from_dict(obj))
            elif kind == "tree":
                if set(obj) != {"note"} or not isinstance(obj["note"], str):
                    raise AuditFormatError("a tree line holds one note (a string)")
                trees.append(obj["note"])
            elif kind == "header":
                _check_header(obj)
            else:
                raise AuditFormatError(f"unknown line type {kind!r}")
        except AuditFormatError as exc:
            raise AuditFormatError(
                f"export line {number}: {exc.message}",
                hint="the export was edited or truncated mid-line; export it again",
                line=number,
            ) from exc
    return records, checkpoints, trees


def _decode(raw: str | bytes, number: int) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AuditFormatError(
            f"export line {number} is not UTF-8",
            hint="an export is UTF-8 text; it was damaged or is not an audit export",
            line=number,
        ) from exc


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in object")
    return obj


def _parse_object(text: str, number: int) -> dict[str, Any]:
    try:
        obj = json.loads(text, object_pairs_hook=_no_duplicates)
    except ValueError as exc:
        raise AuditFormatError(
            f"export line {number} is not JSON: {exc}",
            hint="the export was edited or truncated mid-line; export it again",
            line=number,
        ) from exc
    if not isinstance(obj, dict):
        raise AuditFormatError(
            f"export line {number} is not a JSON object",
            hint="each line of an export is one JSON object",
            line=number,
        )
    return obj


def _check_header(obj: dict[str, Any]) -> None:
    if obj.get("format") != EXPORT_FORMAT or obj.get("version") != EXPORT_VERSION:
        raise AuditFormatError(
            f"header names format {obj.get('format')!r} version {obj.get('version')!r}; "
            f"this domicile reads {EXPORT_FORMAT} version {EXPORT_VERSION}"
        )
