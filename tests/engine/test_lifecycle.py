"""Lifecycle rules enforced by sweep: noncurrent versions, lone delete markers, uploads;
never a version under retention or legal hold."""

from __future__ import annotations

import time

from domicile.engine import Domicile
from domicile.engine.lifecycle import Rule, enforce
from domicile.engine.records import ObjectMeta

DAY = 86_400.0
#: Every test on SQLite and PostgreSQL (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]


def test_noncurrent_versions_expire_but_locked_ones_stay(engine: Domicile) -> None:
    engine.create_bucket("vault", "eu-only", object_lock=True)
    held = engine.put("vault", "k", b"v1", meta=ObjectMeta(legal_hold=True)).s3_version_id
    retained = engine.put(
        "vault",
        "k",
        b"v2",
        meta=ObjectMeta(lock_mode="COMPLIANCE", lock_until=time.time() + 9 * DAY),
    ).s3_version_id
    free = engine.put("vault", "k", b"v3").s3_version_id
    current = engine.put("vault", "k", b"v4").s3_version_id
    engine.put("vault", "logs/x", b"other prefix")
    engine.put("vault", "logs/x", b"other prefix, newer")
    engine.set_lifecycle("vault", [Rule(id="r", noncurrent_days=3)])
    assert enforce(engine.context, now=time.time() + DAY).versions_expired == 0  # too early
    report = enforce(engine.context, now=time.time() + 4 * DAY)
    assert report.versions_expired == 2  # v3 and the older logs/x
    assert sorted(report.kept_locked) == sorted([f"vault/k@{held}", f"vault/k@{retained}"])
    left = {v.s3_version_id for v in engine.list_versions("vault", prefix="k").versions}
    assert left == {held, retained, current} and free not in left
    refused = [r for r in engine.audit.records() if r.result == "refused"]
    assert len(refused) == 2 and {r.action for r in refused} == {"version_delete"}


def test_lone_delete_markers_and_prefixes(engine: Domicile) -> None:
    engine.set_versioning("docs", "Enabled")
    engine.put("docs", "a/gone", b"x")
    engine.remove("docs", "a/gone")  # marker over one version
    engine.remove("docs", "a/never")  # a marker alone
    engine.remove("docs", "b/never")  # outside the rule's prefix
    engine.set_lifecycle(
        "docs", [Rule(id="m", prefix="a/", expired_delete_marker=True, noncurrent_days=1)]
    )
    report = enforce(engine.context, now=time.time() + 2 * DAY)
    assert (report.versions_expired, report.markers_expired) == (1, 2)
    keys = {v.key for v in engine.list_versions("docs").versions}
    assert keys == {"b/never"}


def test_disabled_rules_do_nothing(engine: Domicile) -> None:
    engine.set_versioning("docs", "Enabled")
    engine.put("docs", "k", b"1")
    engine.put("docs", "k", b"2")
    engine.set_lifecycle("docs", [Rule(id="off", enabled=False, noncurrent_days=1)])
    assert enforce(engine.context, now=time.time() + 9 * DAY).versions_expired == 0
    assert engine.lifecycle("docs") == [Rule(id="off", enabled=False, noncurrent_days=1)]
