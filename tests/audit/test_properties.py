"""Properties: any single tampering of a random signed chain is detected at the right seq."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.audit import (
    AuditKey,
    Chain,
    ProblemKind,
    Record,
    export_lines,
    parse_lines,
    sign_checkpoint,
    verify_chain,
)
from tests.examples import examples

from .conftest import build_log, step_clock

K = ProblemKind
SETTINGS = settings(max_examples=examples(150), deadline=None)

CONTENT_CHANGES = {
    "time": lambda r: replace(r, time=r.time + 1),
    "actor": lambda r: replace(r, actor=r.actor + "x"),
    "action": lambda r: replace(r, action="purge"),
    "bucket": lambda r: replace(r, bucket=None),
    "key": lambda r: replace(r, key=r.key + "\u00e9"),
    "version": lambda r: replace(r, version="v0"),
    "sites": lambda r: replace(r, sites=(*r.sites, "us-east-1")),
    "policy": lambda r: replace(r, policy="anywhere@1"),
    "result": lambda r: replace(r, result="forged"),
    "detail": lambda r: replace(r, detail={**r.detail, "size": -1}),
}


@st.composite
def logs(draw: st.DrawFn) -> tuple[int, int]:
    return draw(st.integers(1, 24)), draw(st.integers(1, 6))


@SETTINGS
@given(shape=logs(), data=st.data())
def test_content_change_is_located(key: AuditKey, shape, data) -> None:
    n, every = shape
    log = build_log(key, n, every=every)
    i = data.draw(st.integers(0, n - 1), label="index")
    field = data.draw(st.sampled_from(sorted(CONTENT_CHANGES)), label="field")
    log.records[i] = CONTENT_CHANGES[field](log.records[i])
    report = verify_chain(log.records, log.checkpoints, key.public)
    # The last record is vouched for only by the final checkpoint.
    kind = K.CHECKPOINT_MISMATCH if i == n - 1 else K.CHANGED
    assert [(p.seq, p.kind) for p in report.problems] == [(i + 1, kind)]


@SETTINGS
@given(shape=logs(), data=st.data())
def test_prev_change_is_located(key: AuditKey, shape, data) -> None:
    n, every = shape
    log = build_log(key, n, every=every)
    i = data.draw(st.integers(0, n - 1), label="index")
    forged = data.draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True), label="prev")
    if forged == log.records[i].prev:
        return
    log.records[i] = replace(log.records[i], prev=forged)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert [(p.seq, p.kind) for p in report.problems] == [(i + 1, K.CHANGED)]


@SETTINGS
@given(shape=logs(), data=st.data())
def test_removal_is_located(key: AuditKey, shape, data) -> None:
    n, every = shape
    log = build_log(key, n, every=every)
    i = data.draw(st.integers(0, n - 1), label="index")
    del log.records[i]
    report = verify_chain(log.records, log.checkpoints, key.public)
    kind = K.TRUNCATED if i == n - 1 else K.REMOVED
    assert [(p.seq, p.kind) for p in report.problems] == [(i + 1, kind)]


@SETTINGS
@given(shape=logs(), data=st.data())
def test_insertion_is_located(key: AuditKey, shape, data) -> None:
    n, every = shape
    log = build_log(key, n, every=every)
    i = data.draw(st.integers(0, n - 1), label="index")
    before = data.draw(st.booleans(), label="before")
    intruder = replace(log.records[i], key="planted", result="ok")
    log.records.insert(i if before else i + 1, intruder)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert [(p.seq, p.kind) for p in report.problems] == [(i + 1, K.INSERTED)]


@SETTINGS
@given(shape=logs(), data=st.data())
def test_reordering_is_located(key: AuditKey, shape, data) -> None:
    n, every = shape
    if n < 2:
        return
    log = build_log(key, n, every=every)
    i = data.draw(st.integers(0, n - 2), label="i")
    j = data.draw(st.integers(i + 1, n - 1), label="j")
    log.records[i], log.records[j] = log.records[j], log.records[i]
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert [(p.seq, p.kind) for p in report.problems] == [(i + 1, K.REORDERED)]


@SETTINGS
@given(shape=logs(), data=st.data())
def test_truncation_is_located(key: AuditKey, shape, data) -> None:
    n, every = shape
    log = build_log(key, n, every=every)
    m = data.draw(st.integers(0, n - 1), label="kept")
    report = verify_chain(log.records[:m], log.checkpoints, key.public)
    assert [(p.seq, p.kind) for p in report.problems] == [(m + 1, K.TRUNCATED)]


@SETTINGS
@given(shape=logs(), data=st.data())
def test_checkpoint_forgery_is_located(key: AuditKey, other_key: AuditKey, shape, data) -> None:
    n, every = shape
    log = build_log(key, n, every=every)
    c = data.draw(st.integers(0, len(log.checkpoints) - 1), label="checkpoint")
    cp = log.checkpoints[c]
    forged = sign_checkpoint(other_key, cp.seq, cp.head_hash, cp.time)
    log.checkpoints[c] = replace(forged, key_id=cp.key_id)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert [(p.seq, p.kind) for p in report.problems] == [(cp.seq, K.BAD_SIGNATURE)]


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
scalars = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts
events = st.fixed_dictionaries(
    {
        "actor": texts,
        "action": texts,
        "result": texts,
        "bucket": st.none() | texts,
        "key": st.none() | texts,
        "version": st.none() | texts,
        "policy": st.none() | texts,
        "sites": st.lists(texts, max_size=3),
        "detail": st.dictionaries(st.from_regex(r"[a-z0-9_.-]{1,8}", fullmatch=True), scalars),
    }
)


@SETTINGS
@given(st.lists(events, min_size=1, max_size=8))
def test_any_chain_survives_export_and_verifies(key: AuditKey, evs) -> None:
    chain = Chain(clock=step_clock())
    records: list[Record] = [chain.append(**ev) for ev in evs]
    head = records[-1]
    cps = [sign_checkpoint(key, head.seq, head.hash, head.time)]
    text = "\n".join(export_lines(records, cps))
    assert len(text.splitlines()) == len(records) + 2
    back_records, back_cps = parse_lines(text.splitlines())
    assert back_records == records and back_cps == cps
    assert [r.hash for r in back_records] == [r.hash for r in records]
    assert verify_chain(back_records, back_cps, key.public).ok
