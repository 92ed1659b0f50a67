"""Versioned definitions in the audit log: what policies and sites were, from when.

A *definition* is one named thing of the configuration (a policy's rules, a site's
residency facts) in a canonical form: a JSON object whose lists are sorted, so that
reordering is no change. Its **fingerprint** is the first 16 hex digits of the SHA-256 of
that form's canonical JSON, its **version** counts its definitions (1 when first recorded,
one more per change). On every open, :func:`record_changes` compares the definitions in
force with the ones last recorded and has a :class:`Kind` append an ``*_added``,
``*_change`` or ``*_removed`` record for each that differs.

What was last recorded is cached in a JSON file beside the audit key, with the seq and
hash of the newest record it reflects. The cache is trusted only if the catalog holds that
record with that hash; otherwise (first open, a lost file, a restored or different
catalog) it is rebuilt by one scan of the chain. The check and the appends run under a lock
on that file, so two processes opening the same edited configuration record a change once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from domicile.audit import Record
from domicile.engine.auditlog import AuditLog

SUMMARY_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the audit log last recorded of one definition."""

    version: int
    fingerprint: str
    rules: dict[str, Any]


class Kind(Protocol):
    """One kind of definition: its record actions, how its records are written, and how
    a record tells the definition back."""

    #: ``(added, change, removed)`` action names.
    actions: tuple[str, str, str]
    #: The cache file's key for the definitions (``policies``, ``sites``).
    plural: str

    def added(self, audit: AuditLog, name: str, rules: dict[str, Any]) -> Record: ...

    def changed(
        self, audit: AuditLog, name: str, before: Recorded, rules: dict[str, Any]
    ) -> Record: ...

    def removed(self, audit: AuditLog, name: str, before: Recorded) -> Record: ...

    def recorded(self, record: Record) -> tuple[str, Recorded | None] | None:
        """(name, definition) a record of this kind sets, with None for a removal; None
        for a record it cannot read."""
        ...


def canonical(rules: Mapping[str, Any]) -> str:
    return json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(rules: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of ``rules``."""
    return hashlib.sha256(canonical(rules).encode("utf-8")).hexdigest()[:16]


def summarize(old: Mapping[str, Any], new: Mapping[str, Any], *, arrow: str = "->") -> str:
    """What changed, compactly: ``copies 2->3; allow +CH -DE``; a nested object's keys
    are named with a dot (``backend.endpoint``)."""
    parts = _differences("", old, new, arrow)
    text = "; ".join(parts)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."


def _differences(
    prefix: str, old: Mapping[str, Any], new: Mapping[str, Any], arrow: str
) -> list[str]:
    parts: list[str] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        label = prefix + name
        if isinstance(before, list) and isinstance(after, list):
            added = [f"+{x}" for x in after if x not in before]
            removed = [f"-{x}" for x in before if x not in after]
            parts.append(f"{label} {' '.join(added + removed)}")
        elif isinstance(before, Mapping) and isinstance(after, Mapping):
            parts.extend(_differences(label + ".", before, after, arrow))
        else:
            parts.append(f"{label} {_text(before, arrow)}{arrow}{_text(after, arrow)}")
    return parts


def _text(value: Any, arrow: str) -> str:
    """Policies keep their JSON form (``"a"->"b"``); with a spaced arrow, plain words."""
    if arrow == "->":
        return json.dumps(value)
    return "none" if value is None else str(value)


def record_changes(
    audit: AuditLog, kind: Kind, current: Mapping[str, dict[str, Any]], cache: Path
) -> list[Record]:
    """Append a record per definition added, changed or removed since the last recorded
    ones; return them (none when nothing changed)."""
    with _locked(cache):
        known, vouch, trusted = _load(audit, kind, cache)
        made: list[Record] = []
        for name in sorted(set(known) | set(current)):
            before, rules = known.get(name), current.get(name)
            if rules is None:
                assert before is not None
                made.append(kind.removed(audit, name, before))
            elif before is None:
                made.append(kind.added(audit, name, rules))
            elif before.fingerprint != fingerprint(rules):
                made.append(kind.changed(audit, name, before, rules))
        if made:
            vouch = (made[-1].seq, made[-1].hash)
        if made or not trusted:
            _save(cache, kind, _replay(kind, known, made), vouch)
    return made


def _replay(kind: Kind, known: dict[str, Recorded], records: list[Record]) -> dict[str, Recorded]:
    """``known`` updated by ``records`` of ``kind``, in order."""
    state = dict(known)
    for r in records:
        found = kind.recorded(r)
        if found is None:
            continue
        name, definition = found
        if definition is None:
            state.pop(name, None)
        else:
            state[name] = definition
    return state


def _load(
    audit: AuditLog, kind: Kind, cache: Path
) -> tuple[dict[str, Recorded], tuple[int, str], bool]:
    """The last recorded definitions, the (seq, hash) of the record that vouches for them,
    and whether they came from the cache (the catalog holds that record) or were rebuilt
    from the chain."""
    try:
        doc = json.loads(cache.read_text(encoding="utf-8"))
        seq, digest = int(doc["seq"]), str(doc["hash"])
        if audit.record_hash(seq) == digest:
            state = {
                name: Recorded(int(p["version"]), str(p["fingerprint"]), dict(p["rules"]))
                for name, p in doc[kind.plural].items()
            }
            return state, (seq, digest), True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    records = list(audit.records_of(kind.actions))
    vouch = (records[-1].seq, records[-1].hash) if records else (0, "")
    return _replay(kind, {}, records), vouch, False


def _save(cache: Path, kind: Kind, state: dict[str, Recorded], vouch: tuple[int, str]) -> None:
    doc = {
        "seq": vouch[0],
        "hash": vouch[1],
        kind.plural: {
            name: {"version": r.version, "fingerprint": r.fingerprint, "rules": r.rules}
            for name, r in sorted(state.items())
        },
    }
    fd, tmp = tempfile.mkstemp(prefix=f".{kind.plural}-", dir=cache.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, sort_keys=True, indent=1)
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(cache)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise


@contextlib.contextmanager
def _locked(cache: Path) -> Iterator[None]:
    with cache.with_name(cache.name + ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
