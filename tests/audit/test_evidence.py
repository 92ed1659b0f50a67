"""The sites' checkpoint files weighed against each other and the catalog (pure), and the
expected head an auditor passes to verify_chain."""

from __future__ import annotations

from collections.abc import Sequence

from domicile.audit import (
    AuditKey,
    Checkpoint,
    Head,
    SiteFile,
    sign_checkpoint,
    verify_chain,
    weigh,
)
from domicile.audit.evidence import checkpoint_file, checkpoint_file_seq

from .conftest import build_log


def files(site: str, cps: Sequence[Checkpoint]) -> list[SiteFile]:
    return [SiteFile(site, cp.seq, cp.to_bytes()) for cp in cps]


def test_file_names_round_trip() -> None:
    assert checkpoint_file(12) == "ckpt-00000000000000000012"
    assert checkpoint_file_seq(checkpoint_file(12)) == 12
    assert checkpoint_file_seq("ckpt-12") is None and checkpoint_file_seq("b00") is None


def test_agreeing_sites_and_catalog() -> None:
    key = AuditKey.generate()
    log = build_log(key, 12)
    found = files("fr", log.checkpoints) + files("de", log.checkpoints)
    ev = weigh(found, log.checkpoints, key.public, sites=["fr", "de"])
    assert ev.problems == () and ev.notices == ()
    assert sorted(cp.seq for cp in ev.valid) == [4, 8, 12]


def test_a_site_lacking_a_checkpoint_is_a_notice() -> None:
    key = AuditKey.generate()
    log = build_log(key, 12)
    found = files("fr", log.checkpoints) + files("de", log.checkpoints[:-1])
    ev = weigh(found, [], key.public, sites=["fr", "de"])
    assert ev.problems == ()
    assert len(ev.notices) == 1 and ev.notices[0].startswith("site de lacks 1 checkpoint")


def test_two_heads_for_one_seq_are_a_fork() -> None:
    key = AuditKey.generate()
    log = build_log(key, 8)
    other = sign_checkpoint(key, 8, "cd" * 32, 5)
    found = files("fr", log.checkpoints) + files("de", [log.checkpoints[0], other])
    ev = weigh(found, log.checkpoints, key.public, sites=["fr", "de"])
    assert [(p.seq, str(p.kind)) for p in ev.problems] == [(8, "forked")]
    assert "site de" in ev.problems[0].message and "the catalog" in ev.problems[0].message
    report = verify_chain(log.records, [*log.checkpoints, *ev.valid], key.public)
    assert not report.ok and report.first_problem is not None
    assert report.first_problem.seq == 8


def test_planted_renamed_and_foreign_files() -> None:
    key = AuditKey.generate()
    log = build_log(key, 8)
    foreign = sign_checkpoint(AuditKey.generate(), 9, "ab" * 32, 1)
    found = [
        SiteFile("fr", 20, b"not json"),
        SiteFile("fr", 7, log.checkpoints[0].to_bytes()),  # seq 4 under the name of 7
        SiteFile("de", 9, foreign.to_bytes()),
    ]
    ev = weigh(found, [], key.public, sites=["fr", "de"])
    kinds = sorted((p.seq, str(p.kind)) for p in ev.problems)
    assert kinds == [(7, "bad-signature"), (9, "bad-signature"), (20, "bad-signature")]
    assert ev.valid == ()


def test_expected_head() -> None:
    key = AuditKey.generate()
    log = build_log(key, 10)
    last = log.records[-1]
    assert verify_chain(log.records, [], key.public, expected=Head(10, last.hash)).ok
    short = verify_chain(log.records[:7], [], key.public, expected=Head(10, last.hash))
    assert [(p.seq, str(p.kind)) for p in short.problems] == [(8, "truncated")]
    wrong = verify_chain(log.records, [], key.public, expected=Head(10, "0" * 64))
    assert [(p.seq, str(p.kind)) for p in wrong.problems] == [(10, "head-mismatch")]
