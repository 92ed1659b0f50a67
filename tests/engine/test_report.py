"""The residency report on a seeded deployment matches the catalog exactly.

Expected figures are recomputed here from the catalog's versions and placements and the
configured sites, not by the report code.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import pytest

import domicile
from domicile.catalog import Placement, Version
from domicile.engine.facts import Report, Tally, Verification, verification
from domicile.errors import BucketNotFound
from domicile.policy import countries, subject_to
from domicile.policy.registry import load_registry
from domicile.report import report_json
from tests.engine.report_seed import OBJECTS, buckets_of, seed

Copy = tuple[Version, Placement]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed(tmp_path_factory.mktemp("report"))


def copies(engine: domicile.Domicile, buckets: list[str]) -> tuple[list[Version], list[Copy]]:
    catalog = engine.context.catalog
    versions = [v for b in buckets for v in catalog.iter_versions(b)]
    return versions, [(v, p) for v in versions for p in catalog.placements(v.version_id)]


def expected_tallies(pairs: list[tuple[str, Version]]) -> dict[str, tuple[int, int, int]]:
    """id -> (objects, bytes once per object, copies) from (id, version) per copy."""
    objects: dict[str, dict[str, int]] = defaultdict(dict)
    count: Counter[str] = Counter()
    for key, version in pairs:
        objects[key][version.version_id] = version.size
        count[key] += 1
    return {k: (len(v), sum(v.values()), count[k]) for k, v in objects.items()}


def as_dict(rows: tuple[Tally, ...]) -> dict[str, tuple[int, int, int]]:
    return {t.id: (t.objects, t.bytes, t.copies) for t in rows}


def test_the_report_matches_the_catalog(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        report = engine.report(details=True)
        world = engine.context.world
        versions, held = copies(engine, list(buckets_of(None)))
    sites = world.sites
    assert report.scope.kind == "all" and set(report.scope.buckets) == set(OBJECTS)
    assert report.deployment == "acme-eu"
    assert report.objects == sum(len(o) for o in OBJECTS.values()) == len(versions)
    assert report.bytes == sum(size for o in OBJECTS.values() for _, size in o)
    assert report.copies == len(held)

    assert as_dict(report.by_country) == expected_tallies(
        [(sites[p.site_id].country, v) for v, p in held]
    )
    assert as_dict(report.by_operator) == expected_tallies(
        [(sites[p.site_id].operator, v) for v, p in held]
    )
    exposure = {s: [j for j, _ in subject_to(world, sites[s].operator)] for s in sites}
    assert exposure["fra"] == ["CN"] and {"US", "CN"} <= set(exposure["sv"])
    assert as_dict(report.by_exposure) == expected_tallies(
        [(j, v) for v, p in held for j in exposure[p.site_id]]
    )
    by_site = {s.id: (s.objects, s.bytes) for s in report.by_site}
    site_copies = expected_tallies([(p.site_id, v) for v, p in held])
    assert by_site == {s: site_copies.get(s, (0, 0, 0))[:2] for s in sites}
    assert {s.id: s.status for s in report.by_site}["waw"] == "draining"

    # A country without an outline on the 110m map (Singapore) is still in the table.
    names = {t.id: t.name for t in report.by_country}
    assert "SG" in names and all(names[c] == countries()[c] for c in names)
    assert [t.bytes for t in report.by_country] == sorted(
        (t.bytes for t in report.by_country), reverse=True
    )


def test_violations_are_the_sovereign_copies_on_the_handed_over_site(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        report = engine.report(details=True)
        _, held = copies(engine, list(buckets_of(None)))
    policy_of = {"records": "sovereign", "ledger": "sovereign", "minutes": "global"}
    want = {
        (v.bucket, v.key, v.version_id)
        for v, p in held
        if p.site_id == "fra" and policy_of[v.bucket] == "sovereign"
    }
    assert want, "the seed must place some sovereign copies on fra"
    assert not report.compliant
    assert {(x.bucket, x.key, x.version_id) for x in report.violations} == want
    for x in report.violations:
        assert x.site_id == "fra" and x.policy == "sovereign"
        assert x.codes == ("subject_to",) and "CN" in x.reasons[0]
        assert (x.country, x.operator) == ("DE", "acme-cn")


def test_copy_counts_states_and_verification(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        report = engine.report(details=True)
        versions, held = copies(engine, list(buckets_of(None)))
    policy_of = {"records": "sovereign", "ledger": "sovereign", "minutes": "global"}

    def good(v: Version, p: Placement) -> bool:
        residency_ok = not (p.site_id == "fra" and policy_of[v.bucket] == "sovereign")
        return p.state == "ok" and p.site_id != "waw" and residency_ok

    per_version = Counter(v.version_id for v, p in held if good(v, p))
    want: dict[str, Counter[int]] = defaultdict(Counter)
    for v in versions:
        want[policy_of[v.bucket]][per_version[v.version_id]] += 1
    got = {c.policy: dict(c.distribution) for c in report.copy_counts}
    assert got == {name: dict(counter) for name, counter in want.items()}
    for c in report.copy_counts:
        assert c.required == 2 and c.objects == c.under + c.met + c.over
    sovereign = next(c for c in report.copy_counts if c.policy == "sovereign")
    assert sovereign.under > 0  # the violating copies on fra and the draining ones don't count

    assert dict(report.states) == dict(Counter(p.state for _, p in held))
    assert dict(report.states)["missing"] == 1
    verified = [p.verified_at for _, p in held if p.verified_at is not None]
    assert report.verification.copies == len(held)
    assert report.verification.never == len(held) - len(verified)
    assert report.verification.oldest == min(verified)
    assert report.verification.newest == max(verified)
    assert min(verified) < max(verified)  # the copies of "minutes" were verified later


def test_shortfalls_count_readable_copies_on_allowed_sites(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        report = engine.report(details=True)
        versions, held = copies(engine, list(buckets_of(None)))
        statuses = {s: spec.status.value for s, spec in engine.context.world.sites.items()}
        faults = engine.context.catalog.open_faults()
    policy_of = {"records": "sovereign", "ledger": "sovereign", "minutes": "global"}
    failed = {(f.version_id, f.site_id): f.seen_at for f in faults}
    assert len(failed) == 1  # verify's record of the lost copy

    def readable(p: Placement) -> bool:
        after = failed.get((p.version_id, p.site_id), 0.0) > (p.verified_at or 0.0)
        return p.state == "ok" and statuses[p.site_id] in ("active", "draining") and not after

    def allowed(v: Version, p: Placement) -> bool:
        return not (p.site_id == "fra" and policy_of[v.bucket] == "sovereign")

    want = {}
    for v in versions:
        mine = [p for w, p in held if w.version_id == v.version_id]
        n = sum(readable(p) and allowed(v, p) for p in mine)
        elsewhere = sum(readable(p) and not allowed(v, p) for p in mine)
        if n < 2:
            want[v.version_id] = (v.bucket, n, elsewhere)
    got = {s.version_id: (s.bucket, s.readable, s.readable_elsewhere) for s in report.shortfalls}
    assert got == want
    assert {b for b, _, _ in got.values()} == {"records", "ledger", "minutes"}
    lost = [s for s in report.shortfalls if s.bucket == "minutes"]
    assert len(lost) == 1 and [u.why for u in lost[0].uncounted] == ["marked missing by verify"]
    on_fra = [s for s in report.shortfalls if s.bucket != "minutes"]
    assert all(
        ("fra", "on a site the policy refuses") in {(u.site_id, u.why) for u in s.uncounted}
        for s in on_fra
    )
    assert not report.unreadable  # every object still has a readable copy somewhere


def test_copies_never_verified_are_counted_apart() -> None:
    summary = verification([None, 5.0, None, 2.5])
    assert (summary.copies, summary.never, summary.oldest, summary.newest) == (4, 2, 2.5, 5.0)
    assert verification([]) == Verification(0, 0, None, None)
    assert (verification([None]).oldest, verification([None]).never) == (None, 1)


def test_a_tenant_or_a_bucket_scopes_every_figure(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        bank = engine.report(tenant="bank", details=True)
        minutes = engine.report(bucket="minutes", details=True)
        _, bank_held = copies(engine, ["records", "ledger"])
        _, minutes_held = copies(engine, ["minutes"])
        with pytest.raises(BucketNotFound):
            engine.report(bucket="nope")
        assert engine.report(tenant="nobody").objects == 0
    assert bank.scope.kind == "tenant" and set(bank.scope.buckets) == {"records", "ledger"}
    assert bank.copies == len(bank_held)
    assert {s.id: s.objects for s in bank.by_site if s.objects} == dict(
        Counter(p.site_id for _, p in bank_held)
    )
    assert minutes.scope == minutes.scope.__class__("bucket", "minutes", ("minutes",))
    assert not minutes.violations and minutes.objects == len(OBJECTS["minutes"])
    # The one copy the seed lost leaves its object short of readable copies.
    assert not minutes.compliant and len(minutes.shortfalls) == 1
    assert minutes.copies == len(minutes_held)
    assert [c.policy for c in minutes.copy_counts] == ["global"]


def test_each_site_names_the_definition_the_audit_log_recorded(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        report = engine.report(details=True)
        newest = {
            r.sites[0]: r.detail["fingerprint"]
            for r in engine.audit.records()
            if r.action in ("site_added", "site_change")
        }
    assert {s.id: s.fingerprint for s in report.by_site} == newest
    # The seed handed fra to another operator: its definition changed once since added.
    with domicile.open(seeded) as engine:
        fra = [r for r in engine.audit.records() if r.sites == ("fra",) and "site" in r.action]
    assert [r.action for r in fra] == ["site_added", "site_change"]
    assert fra[-1].detail["changes"] == (
        "operator acme-de -> acme-cn; operator_chain +acme-cn (CN) -acme-de (DE); "
        "subject_to +CN -DE"
    )


def test_chain_status_and_registry(seeded: Path, tmp_path: Path) -> None:
    with domicile.open(seeded) as engine:
        report = engine.report(details=True)
        records = list(engine.audit.records())
    assert report.chain.enabled and report.chain.ok and not report.chain.problems
    assert report.chain.records == len(records)
    assert report.chain.head_seq == records[-1].seq
    assert report.chain.head_hash == records[-1].hash
    assert report.chain.checkpoint_seq is not None
    assert report.registry.version == load_registry().version
    assert report.registry.date == load_registry().date
    assert report.registry.sha256 is not None and len(report.registry.sha256) == 64


def test_a_tampered_chain_is_reported(tmp_path: Path) -> None:
    path = seed(tmp_path)
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        (body,) = db.execute("SELECT body FROM audit_records WHERE seq = 5").fetchone()
        doc = json.loads(body)
        doc["key"] = "innocent"
        db.execute("UPDATE audit_records SET body = ? WHERE seq = 5", (json.dumps(doc),))
    with domicile.open(path) as engine:
        report = engine.report(bucket="minutes", details=True)
    assert not report.chain.ok
    assert report.chain.problems[0].seq == 5 and report.chain.problems[0].kind == "changed"
    doc = report_json(report)["audit_chain"]
    assert doc["ok"] is False and doc["problems"][0]["seq"] == 5


def test_the_json_document_mirrors_the_report(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        report: Report = engine.report(details=True)
    doc = json.loads(json.dumps(report_json(report)))
    assert doc["schema"] == "domicile-report" and doc["version"] == 3
    assert doc["totals"] == {
        "objects": report.objects,
        "bytes": report.bytes,
        "copies": report.copies,
    }
    assert doc["compliance"]["compliant"] is False
    assert doc["compliance"]["violations"] == len(report.violations) == report.violation_count
    assert len(doc["violations"]) == report.violation_count
    assert len(doc["shortfalls"]) == doc["compliance"]["shortfalls"] == report.shortfall_count
    assert [r["id"] for r in doc["by_country"]] == [t.id for t in report.by_country]
    assert doc["generated_at"].endswith("Z")
    assert doc["registry"]["version"] == report.registry.version


def test_without_details_the_rows_are_counted_and_streamed_apart(seeded: Path) -> None:
    with domicile.open(seeded) as engine:
        full = engine.report(details=True)
        counted = engine.report()
        streamed = list(engine.report_rows())
        minutes = list(engine.report_rows(bucket="minutes"))
    assert full.violations and full.shortfalls  # the seed has both
    assert counted.violations == () and counted.shortfalls == () and not counted.details
    assert counted.violation_count == len(full.violations) == full.violation_count
    assert counted.shortfall_count == len(full.shortfalls)
    assert counted.unreadable_count == len(full.unreadable)
    assert not counted.compliant
    assert replace(counted, generated_at=0, chain=full.chain) == replace(
        full, generated_at=0, violations=(), shortfalls=(), details=False
    )
    assert sorted(map(repr, streamed)) == sorted(map(repr, [*full.violations, *full.shortfalls]))
    assert {r.bucket for r in minutes} <= {"minutes"}
    doc = report_json(counted)
    assert "violations" not in doc and "shortfalls" not in doc
    assert doc["compliance"]["violations"] == full.violation_count
