"""Reports over time (issue 15 item 5), through the library: violation windows bounded by
the audit records of a site handover and of the apply that moved the copies out, judged by
the policy and site definitions as they were at each moment."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pytest

import domicile
from domicile.engine.facts import HistoryReport
from domicile.engine.facts.history import verified_bodies, verified_chain
from domicile.errors import AuditAltered, BucketNotFound
from tests.engine.conftest import put_until_on
from tests.engine.history_seed import (
    KEYS,
    apply,
    deployment,
    expected,
    fill,
    hand_over,
    seconds,
)


def history(path: Path, start: float, end: float, **scope: str) -> HistoryReport:
    with domicile.open(path) as engine:
        return engine.history_report(start, end, **scope)


@pytest.fixture(scope="module")
def handed_over(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float, float]:
    """The deployment after handover and apply, with the time before it began and after."""
    path = deployment(tmp_path_factory.mktemp("history"))
    began = time.time()
    fill(path)
    hand_over(path)
    apply(path)
    return path, began, time.time()


def test_a_handover_then_apply_is_one_window_with_the_records_times(
    handed_over: tuple[Path, float, float],
) -> None:
    path, began, ended = handed_over
    want = expected(path)
    r = history(path, began, ended)
    assert not r.compliant
    (window,) = r.windows
    assert (window.bucket, window.site.id) == ("docs", "de")
    assert window.start == seconds(want.change)  # the handover's record
    assert window.end == max(map(seconds, want.removals.values()))  # the last copy moved out
    assert not window.ongoing
    assert window.codes == ("subject_to",)
    assert "acme-cn" in window.reasons[0] and "CN" in window.reasons[0]
    assert (window.site.operator, window.site.subject_to, window.site.version) == (
        "acme-cn",
        ("CN",),
        2,
    )
    assert (window.policy.name, window.policy.version) == ("eu-only", 1)
    # Every copy on de at the handover is in the window, until its own removal record.
    assert {c.version_id for c in window.copies} == set(want.removals)
    for c in window.copies:
        assert c.start == window.start
        assert c.end == seconds(want.removals[c.version_id])
    # Where copies rested: de allowed under its first definition, refused under the second.
    on_de = [x for x in r.residences if x.site.id == "de"]
    assert [(x.site.version, x.allowed) for x in on_de] == [(1, True), (2, False)]
    assert on_de[0].end == on_de[1].start == window.start
    assert all(x.allowed for x in r.residences if x.site.id != "de")
    assert r.blocs == ("EU",)  # bloc membership from today's registry, flagged
    assert r.chain.ok and r.records == r.chain.records


def test_a_period_before_the_handover_has_no_violation(
    handed_over: tuple[Path, float, float],
) -> None:
    path, began, _ = handed_over
    change = seconds(expected(path).change)
    r = history(path, began, change - 1e-3)
    assert r.compliant and not r.windows
    assert {x.site.id for x in r.residences} >= {"de"}  # the copies on de, allowed then
    assert all(x.allowed for x in r.residences)
    assert r.copies >= 12 and r.versions >= 6


def test_a_period_inside_the_window_clips_it(handed_over: tuple[Path, float, float]) -> None:
    path, _, _ = handed_over
    want = expected(path)
    first, last = seconds(want.change), max(map(seconds, want.removals.values()))
    middle = (first + last) / 2
    (window,) = history(path, middle, last + 10).windows
    assert (window.start, window.end) == (middle, last)
    (window,) = history(path, first - 10, middle, bucket="docs").windows
    assert (window.start, window.end) == (first, middle) and window.ongoing
    assert not history(path, first - 10, last + 10, tenant="nobody").windows
    with pytest.raises(BucketNotFound):  # a typo is not a clean bucket
        history(path, first - 10, last + 10, bucket="dcos")


def test_a_policy_change_opens_a_window_on_a_site_it_now_refuses(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    began = time.time()
    fill(path)
    with domicile.open(path) as engine:
        put_until_on(engine, "docs", KEYS, "fr", lambda: os.urandom(200))
    # The policy now denies France: every copy on fr is refused from that record on.
    text = path.read_text().replace(
        'deny_subject_to = ["CN"]', 'deny = ["FR"]\ndeny_subject_to = ["CN"]'
    )
    path.write_text(text)
    with domicile.open(path) as engine:
        records = list(engine.audit.records())
        r = engine.history_report(began, time.time())
    change = next(x for x in records if x.action == "policy_change")
    (window,) = [w for w in r.windows if w.site.id == "fr"]
    assert window.start == seconds(change) and window.ongoing
    assert window.codes == ("country_denied",) and window.policy.version == 2
    assert [(p.version, p.end) for p in r.policies] == [(1, seconds(change)), (2, None)]
    assert all(x.allowed for x in r.residences if x.end <= window.start)


def test_a_rewritten_record_is_refused_and_nothing_is_reported(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    fill(path)
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        (body,) = db.execute("SELECT body FROM audit_records WHERE seq = 3").fetchone()
        forged = json.loads(body) | {"actor": "cli:mallory"}
        db.execute(
            "UPDATE audit_records SET body = ? WHERE seq = 3",
            (json.dumps(forged, sort_keys=True, separators=(",", ":")),),
        )
    with domicile.open(path) as engine, pytest.raises(AuditAltered) as caught:
        engine.history_report(0, time.time())
    assert caught.value.context.get("seq") == 3


def test_a_record_changed_after_verification_stops_the_replay(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    fill(path)
    with domicile.open(path) as engine:
        chain = verified_chain(engine.context)
        assert len(list(verified_bodies(engine.context, chain))) == chain.records
        with sqlite3.connect(tmp_path / "catalog.db") as db:
            (body,) = db.execute("SELECT body FROM audit_records WHERE seq = 5").fetchone()
            forged = body.replace('"result":"ok"', '"result":"error"')
            db.execute("UPDATE audit_records SET body = ? WHERE seq = 5", (forged,))
        with pytest.raises(AuditAltered) as caught:
            list(verified_bodies(engine.context, chain))
        assert caught.value.context["seq"] == 5
