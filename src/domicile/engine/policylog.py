"""Policy changes applied: when the deployment opens with residency policies whose rules
differ from the ones last recorded, the audit log gets ``policy_added``,
``policy_change`` and ``policy_removed`` records.

Each policy's rules have a canonical form (:func:`rules_of`: every list sorted, so that
reordering ``allow`` is no change) and a **fingerprint**, the first 16 hex digits of the
SHA-256 of that form's canonical JSON. A policy's **version** counts its definitions: 1
when first recorded, one more per change. The records carry the name and version in
``policy`` (``eu-only@2``) and the whole new definition in ``detail.rules``, so the chain
alone tells what was in force from when.

What was last recorded is cached next to the audit key (``<audit key>.policies.json``,
with the seq and hash of the newest policy record it reflects). The cache is trusted only
if the catalog holds that record with that hash; otherwise (first open, a lost file, a
restored or different catalog) it is rebuilt by one scan of the chain. The check and the
appends run under a lock on that file, so two processes opening the same edited
configuration record the change once.
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
from typing import Any

from domicile.audit import Record
from domicile.engine.auditlog import AuditLog
from domicile.policy import Policy

ACTIONS = ("policy_added", "policy_change", "policy_removed")
SUMMARY_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the audit log last recorded of one policy."""

    version: int
    fingerprint: str
    rules: dict[str, Any]


def rules_of(policy: Policy) -> dict[str, Any]:
    """The rules of ``policy`` in canonical form (lists sorted; no name)."""
    return {
        "allow": sorted(policy.allow),
        "deny": sorted(policy.deny),
        "deny_subject_to": sorted(policy.deny_subject_to),
        "copies": policy.copies,
        "distinct": str(policy.distinct.value),
        "recipients": sorted(policy.recipients),
        "audit_reads": policy.audit_reads,
        "require": sorted(policy.require),
    }


def canonical(rules: Mapping[str, Any]) -> str:
    return json.dumps(rules, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(rules: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON of ``rules``."""
    return hashlib.sha256(canonical(rules).encode("utf-8")).hexdigest()[:16]


def summarize(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    """What changed, compactly: ``copies 2->3; allow +CH -DE``."""
    parts: list[str] = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if isinstance(before, list) and isinstance(after, list):
            added = [f"+{x}" for x in after if x not in before]
            removed = [f"-{x}" for x in before if x not in after]
            parts.append(f"{name} {' '.join(added + removed)}")
        else:
            parts.append(f"{name} {json.dumps(before)}->{json.dumps(after)}")
    text = "; ".join(parts)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 3] + "..."


def record_policy_changes(
    audit: AuditLog, policies: Mapping[str, Policy], cache: Path
) -> list[Record]:
    """Append a record per policy added, changed or removed since the last recorded
    definitions; return them (none when nothing changed)."""
    current = {name: rules_of(p) for name, p in policies.items()}
    with _locked(cache):
        known, vouch, trusted = _load(audit, cache)
        made: list[Record] = []
        for name in sorted(set(known) | set(current)):
            before, rules = known.get(name), current.get(name)
            if rules is None:
                assert before is not None
                made.append(_removed(audit, name, before))
            elif before is None:
                made.append(_added(audit, name, rules))
            elif before.fingerprint != fingerprint(rules):
                made.append(_changed(audit, name, before, rules))
        if made:
            vouch = (made[-1].seq, made[-1].hash)
        if made or not trusted:
            _save(cache, _replay(known, made), vouch)
    return made


def _added(audit: AuditLog, name: str, rules: dict[str, Any]) -> Record:
    fp = fingerprint(rules)
    return audit.record(
        "policy_added",
        policy=f"{name}@1",
        detail={"name": name, "version": 1, "fingerprint": fp, "rules": canonical(rules)},
    )


def _changed(audit: AuditLog, name: str, before: Recorded, rules: dict[str, Any]) -> Record:
    version = before.version + 1
    return audit.record(
        "policy_change",
        policy=f"{name}@{version}",
        detail={
            "name": name,
            "version": version,
            "from": before.fingerprint,
            "fingerprint": fingerprint(rules),
            "changes": summarize(before.rules, rules),
            "rules": canonical(rules),
        },
    )


def _removed(audit: AuditLog, name: str, before: Recorded) -> Record:
    return audit.record(
        "policy_removed",
        policy=f"{name}@{before.version}",
        detail={"name": name, "version": before.version, "fingerprint": before.fingerprint},
    )


def _replay(known: dict[str, Recorded], records: list[Record]) -> dict[str, Recorded]:
    """``known`` updated by policy records, in order."""
    state = dict(known)
    for r in records:
        name = r.detail.get("name")
        if not isinstance(name, str):
            continue
        if r.action == "policy_removed":
            state.pop(name, None)
            continue
        rules_text, version, fp = (r.detail.get(k) for k in ("rules", "version", "fingerprint"))
        if isinstance(rules_text, str) and isinstance(version, int) and isinstance(fp, str):
            state[name] = Recorded(version, fp, json.loads(rules_text))
    return state


def _load(audit: AuditLog, cache: Path) -> tuple[dict[str, Recorded], tuple[int, str], bool]:
    """The last recorded definitions, the (seq, hash) of the policy record that vouches for
    them, and whether they came from the cache (the catalog holds that record) or were
    rebuilt from the chain."""
    try:
        doc = json.loads(cache.read_text(encoding="utf-8"))
        seq, digest = int(doc["seq"]), str(doc["hash"])
        if audit.record_hash(seq) == digest:
            state = {
                name: Recorded(int(p["version"]), str(p["fingerprint"]), dict(p["rules"]))
                for name, p in doc["policies"].items()
            }
            return state, (seq, digest), True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    records = list(audit.records_of(ACTIONS))
    vouch = (records[-1].seq, records[-1].hash) if records else (0, "")
    return _replay({}, records), vouch, False


def _save(cache: Path, state: dict[str, Recorded], vouch: tuple[int, str]) -> None:
    doc = {
        "seq": vouch[0],
        "hash": vouch[1],
        "policies": {
            name: {"version": r.version, "fingerprint": r.fingerprint, "rules": r.rules}
            for name, r in sorted(state.items())
        },
    }
    fd, tmp = tempfile.mkstemp(prefix=".policies-", dir=cache.parent)
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
