"""Objects short of readable copies, or with none, make the report NOT COMPLIANT.

"Readable" rests on what domicile verified: placement states set by ``verify``, faults
recorded by reads, and the sites' status; never on the report's own assumptions. Expected
figures are set up by the test (which copy was lost, which site suspended) and checked
against the report's facts and its JSON.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import domicile
from domicile.catalog import Fault, Placement
from domicile.engine import set_site_status
from domicile.engine.facts import Readability, readability
from domicile.errors import CopiesUnavailable
from domicile.report import report_json
from tests.engine.conftest import blob_files, make_deployment

KEYS = ("a", "b", "c", "d")


def drop_copy(engine: domicile.Domicile, root: Path, key: str, site: str) -> None:
    """Delete the blobs of ``docs/key`` on ``site`` behind domicile's back."""
    catalog = engine.context.catalog
    version = catalog.current_version("docs", key)
    ids = {s.blob_id for s in catalog.segments(version.version_id)}
    gone = [p for p in blob_files(root, site) if p.name in ids]
    assert gone, f"{key} has no blob on {site}"
    for p in gone:
        p.unlink()


def shortfalls(report: domicile.engine.facts.Report) -> dict[str, tuple[int, bool, set[str]]]:
    """key -> (readable, unreadable, {"site: why"})."""
    return {
        s.key: (s.readable, s.unreadable, {f"{u.site_id}: {u.why}" for u in s.uncounted})
        for s in report.shortfalls
    }


def test_lost_suspended_and_failed_copies_make_the_report_not_compliant(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        for key in KEYS:
            engine.put("docs", key, key.encode() * 1000)
        clean = engine.report(details=True)
        assert clean.compliant and not clean.shortfalls and not clean.violations

        # a: its copy on fr is lost, and verify marks it missing.
        drop_copy(engine, tmp_path, "a", "fr")
        engine.verify(bucket="docs")
        # b: both copies deleted, nothing checked yet: domicile has no evidence, so the
        # report still counts them (it reads no site itself) ...
        drop_copy(engine, tmp_path, "b", "fr")
        drop_copy(engine, tmp_path, "b", "de")
        assert "b" not in shortfalls(engine.report(details=True))
        # ... until a read fails on each: the faults are newer than the last verification.
        with pytest.raises(CopiesUnavailable):
            engine.get("docs", "b").read()
        report = engine.report(details=True)
    assert not report.compliant and not report.violations
    assert shortfalls(report) == {
        "a": (1, False, {"fr: marked missing by verify"}),
        "b": (
            0,
            True,
            {
                "fr: a read failed (not_found) after its last verification",
                "de: a read failed (not_found) after its last verification",
            },
        ),
    }
    assert [s.key for s in report.unreadable] == ["b"]

    # de is suspended (banned, cut off): none of its copies can be read any more.
    set_site_status(path, "de", "suspended")
    with domicile.open(path) as engine:
        report = engine.report(details=True)
    got = shortfalls(report)
    assert got["a"] == (0, True, {"fr: marked missing by verify", "de: site suspended"})
    assert got["c"] == got["d"] == (1, False, {"de: site suspended"})
    assert {s.key for s in report.unreadable} == {"a", "b"}
    assert all(s.required == 2 and s.policy == "eu-only" for s in report.shortfalls)

    whole = report_json(report)
    doc = whole["compliance"]
    assert doc["compliant"] is False and doc["unreadable"] == 2
    assert doc["shortfalls"] == len(whole["shortfalls"])
    listed = {s["key"]: s for s in whole["shortfalls"]}
    assert listed["a"]["unreadable"] is True and listed["a"]["readable"] == 0
    assert {"site": "de", "why": "site suspended"} in listed["c"]["uncounted"]


def test_a_fault_older_than_the_last_verification_does_not_count(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        ctx = engine.context
        copy = Placement("v1", "fr", "ok", created_at=10.0, verified_at=100.0)
        faults = [Fault(1, "v1", "fr", None, "unreachable", "down", seen_at=99.0, resolved_at=None)]
        assert readability(ctx).why_not(copy) is None
        judge = Readability(ctx, faults)
        assert judge.why_not(copy) is None
        later = Fault(2, "v1", "fr", None, "corrupt", "bad tag", seen_at=101.0, resolved_at=None)
        judge = Readability(ctx, [*faults, later])
        assert judge.why_not(copy) == "a read failed (corrupt) after its last verification"
        never = Placement("v1", "fr", "ok", created_at=10.0, verified_at=None)
        assert judge.why_not(never) is not None
        assert judge.why_not(Placement("v1", "gone", "ok", 10.0, 100.0)) == (
            "site not in the configuration"
        )


def test_the_report_names_each_buckets_policy_and_its_rules(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        report = engine.report(details=True)
        added = [r for r in engine.audit.records() if r.action == "policy_added"]
    assert [(b.bucket, b.policy) for b in report.buckets] == [("docs", "eu-only")]
    (rules,) = report.policies
    assert (rules.name, rules.allow, rules.deny_subject_to, rules.copies, rules.distinct) == (
        "eu-only",
        ("EU",),
        ("CN",),
        2,
        "provider",
    )
    # The fingerprint is the one the audit log recorded when the policy came into force.
    assert [r.detail["fingerprint"] for r in added] == [rules.fingerprint]
    doc = report_json(report)
    assert doc["policies"][0]["allow"] == ["EU"] and doc["buckets"][0]["policy"] == "eu-only"
