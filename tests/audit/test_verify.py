"""verify_chain: every kind of tampering is detected and located at the right seq."""

from __future__ import annotations

from dataclasses import replace

from domicile.audit import (
    AuditKey,
    ChainReport,
    Checkpoint,
    Problem,
    ProblemKind,
    sign_checkpoint,
    verify_chain,
)

from .conftest import Log, build_log, rechain

K = ProblemKind


def problems(report: ChainReport) -> list[tuple[int, ProblemKind]]:
    return [(p.seq, p.kind) for p in report.problems]


def first(report: ChainReport) -> Problem:
    assert report.first_problem is not None
    return report.first_problem


def latest(report: ChainReport) -> Checkpoint:
    assert report.latest_checkpoint is not None
    return report.latest_checkpoint


def test_an_untouched_chain_verifies(key: AuditKey) -> None:
    log = build_log(key, 10, every=4)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert report.ok and report.first_problem is None and report.problems == ()
    assert report.records == 10 and report.head == (10, log.records[-1].hash)
    assert report.latest_checkpoint == log.checkpoints[-1] and report.unsigned == 0


def test_records_after_the_last_checkpoint_are_counted_unsigned(key: AuditKey) -> None:
    log = build_log(key, 10, every=4, final=False)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert report.ok and latest(report).seq == 8 and report.unsigned == 2


def test_an_empty_log_verifies(key: AuditKey) -> None:
    report = verify_chain([], [], key.public)
    assert report.ok and report.records == 0 and report.head is None and report.unsigned == 0


def test_changed_record_content(key: AuditKey) -> None:
    log = build_log(key, 10)
    log.records[4] = replace(log.records[4], key="board/2024/forged.pdf")
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(5, K.CHANGED)]
    assert "prev of record 6" in first(report).message


def test_changed_record_at_a_checkpoint(key: AuditKey) -> None:
    log = build_log(key, 10, every=4)
    log.records[7] = replace(log.records[7], result="ok-forged")
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(8, K.CHANGED)]
    assert "checkpoint signed at seq 8" in first(report).message
    assert latest(report).seq == 10


def test_changed_prev_link(key: AuditKey) -> None:
    log = build_log(key, 10)
    log.records[3] = replace(log.records[3], prev="f" * 64)
    assert problems(verify_chain(log.records, log.checkpoints, key.public)) == [(4, K.CHANGED)]


def test_changed_first_record_prev(key: AuditKey) -> None:
    log = build_log(key, 3)
    log.records[0] = replace(log.records[0], prev="1" * 64)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(1, K.CHANGED)]


def test_changed_last_record(key: AuditKey) -> None:
    log = build_log(key, 10)
    log.records[-1] = replace(log.records[-1], actor="cli:root")
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(10, K.CHECKPOINT_MISMATCH)]
    assert "last matching checkpoint (seq 8)" in first(report).message
    assert latest(report).seq == 8 and report.unsigned == 2


def test_history_rewritten_consistently_is_caught_by_the_checkpoint(key: AuditKey) -> None:
    log = build_log(key, 12, every=4)
    forged = list(log.records)
    forged[5] = replace(forged[5], sites=("us-east-1",))
    forged = rechain(forged, 5)  # the forger fixes every link after the change
    report = verify_chain(forged, log.checkpoints, key.public)
    # Every later checkpoint disagrees; the first says where the rewrite began.
    assert problems(report) == [(8, K.CHECKPOINT_MISMATCH), (12, K.CHECKPOINT_MISMATCH)]
    assert "(seq 4)" in first(report).message


def test_removed_record(key: AuditKey) -> None:
    log = build_log(key, 10)
    del log.records[5]
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(6, K.REMOVED)]
    assert first(report).message == "record 6 is missing (removed)"


def test_removed_range_and_first_records(key: AuditKey) -> None:
    log = build_log(key, 10)
    kept = log.records[2:4] + log.records[7:]
    report = verify_chain(kept, log.checkpoints, key.public)
    assert problems(report) == [(1, K.REMOVED), (5, K.REMOVED)]
    assert "records 5..7 are missing (3 removed)" in report.problems[1].message


def test_inserted_record_with_a_taken_seq(key: AuditKey) -> None:
    log = build_log(key, 10)
    intruder = replace(log.records[4], key="board/planted.pdf")  # same seq 5, same prev
    log.records.insert(5, intruder)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(5, K.INSERTED)]


def test_inserted_record_placed_first_is_still_told_apart(key: AuditKey) -> None:
    log = build_log(key, 10)
    intruder = replace(log.records[4], key="board/planted.pdf")
    log.records.insert(4, intruder)  # the intruder comes before the genuine copy
    assert problems(verify_chain(log.records, log.checkpoints, key.public)) == [(5, K.INSERTED)]


def test_inserted_record_with_renumbering(key: AuditKey) -> None:
    log = build_log(key, 12, every=4)
    planted = replace(log.records[5], key="board/planted.pdf")
    forged = [*log.records[:6], planted, *log.records[6:]]
    forged = rechain([replace(r, seq=i) for i, r in enumerate(forged, start=1)], 6)
    report = verify_chain(forged, log.checkpoints, key.public)
    assert first(report).seq == 8
    assert first(report).kind is K.CHECKPOINT_MISMATCH


def test_reordered_records(key: AuditKey) -> None:
    log = build_log(key, 10)
    log.records[2], log.records[6] = log.records[6], log.records[2]
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(3, K.REORDERED)]
    assert "record 7 is at position 3" in first(report).message


def test_truncated_tail_against_catalog_checkpoints(key: AuditKey) -> None:
    log = build_log(key, 10)
    report = verify_chain(log.records[:6], log.checkpoints, key.public)
    assert problems(report) == [(7, K.TRUNCATED)]
    assert "records 7..10" in first(report).message


def test_truncated_tail_and_checkpoints_against_the_sites(key: AuditKey) -> None:
    """Records and checkpoints cut together; only the head kept on the sites catches it."""
    log = build_log(key, 10)
    site_head = log.checkpoints[-1]
    catalog_cps = [cp for cp in log.checkpoints if cp.seq <= 4]
    assert verify_chain(log.records[:6], catalog_cps, key.public).ok
    report = verify_chain(log.records[:6], catalog_cps, key.public, expected_head=site_head)
    assert problems(report) == [(7, K.TRUNCATED)]


def test_everything_removed(key: AuditKey) -> None:
    log = build_log(key, 5)
    report = verify_chain([], log.checkpoints, key.public)
    assert problems(report) == [(1, K.TRUNCATED)] and report.head is None


def test_bad_signature(key: AuditKey) -> None:
    log = build_log(key, 10)
    log.checkpoints[1] = replace(log.checkpoints[1], time=log.checkpoints[1].time + 1)
    report = verify_chain(log.records, log.checkpoints, key.public)
    assert problems(report) == [(8, K.BAD_SIGNATURE)]
    assert "does not verify" in first(report).message


def test_forged_checkpoint_cannot_hide_a_change(key: AuditKey, other_key: AuditKey) -> None:
    log = build_log(key, 8, every=4)
    forged = list(log.records)
    forged[7] = replace(forged[7], bucket="elsewhere")
    fake = sign_checkpoint(other_key, 8, forged[7].hash, forged[7].time)
    fake = replace(fake, key_id=key.key_id)
    report = verify_chain(forged, [log.checkpoints[0], fake], key.public)
    assert problems(report) == [(8, K.BAD_SIGNATURE)]
    assert report.unsigned == 4  # the forged record is not covered by any valid signature


def test_wrong_public_key(key: AuditKey, other_key: AuditKey) -> None:
    log = build_log(key, 8, every=4)
    report = verify_chain(log.records, log.checkpoints, other_key.public)
    assert problems(report) == [(4, K.BAD_SIGNATURE), (8, K.BAD_SIGNATURE)]
    assert "this deployment's audit public key" in first(report).message
    assert report.latest_checkpoint is None and report.unsigned == 8


def test_several_tamperings_are_all_reported(key: AuditKey) -> None:
    log: Log = build_log(key, 20, every=5)
    records = list(log.records)
    records[2] = replace(records[2], action="purge")
    del records[10]
    report = verify_chain(records[:17], log.checkpoints, key.public)
    assert problems(report) == [(3, K.CHANGED), (11, K.REMOVED), (19, K.TRUNCATED)]
    assert latest(report).seq == 15
