"""Export and offline verification: an export file and the public key are all one needs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domicile.audit import (
    AuditKey,
    Chain,
    ProblemKind,
    export_lines,
    load_public_key,
    parse_lines,
    public_key_text,
    verify_chain,
)
from domicile.errors import AuditFormatError

from .conftest import build_log, step_clock


def write_export(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify_offline(export: Path, pubkey: Path):
    """What an auditor runs: no catalog, no deployment, no private key."""
    with export.open(encoding="utf-8") as handle:
        records, checkpoints = parse_lines(handle)
    return verify_chain(records, checkpoints, load_public_key(pubkey))


@pytest.fixture
def exported(tmp_path: Path, key: AuditKey) -> tuple[Path, Path]:
    log = build_log(key, 12, every=5)
    export = tmp_path / "audit.jsonl"
    write_export(export, list(export_lines(log.records, log.checkpoints)))
    pubkey = tmp_path / "audit.pub"
    pubkey.write_text(public_key_text(key.public) + "\n")
    return export, pubkey


def test_offline_verification_of_an_untouched_export(exported: tuple[Path, Path]) -> None:
    report = verify_offline(*exported)
    assert report.ok and report.records == 12 and report.latest_checkpoint.seq == 12


def test_offline_verification_finds_an_edited_line(exported: tuple[Path, Path]) -> None:
    export, pubkey = exported
    lines = export.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[7])  # header is line 1, so this is the record with seq 7
    assert record["seq"] == 7
    record["sites"] = ["cn-north-1"]
    lines[7] = json.dumps(record)
    write_export(export, lines)
    report = verify_offline(export, pubkey)
    assert [(p.seq, p.kind) for p in report.problems] == [(7, ProblemKind.CHANGED)]


def test_offline_verification_finds_a_deleted_and_a_moved_line(
    exported: tuple[Path, Path],
) -> None:
    export, pubkey = exported
    lines = export.read_text(encoding="utf-8").splitlines()
    del lines[3]  # seq 3
    lines[8], lines[9] = lines[9], lines[8]  # seqs 10 and 9 after the deletion
    write_export(export, lines)
    report = verify_offline(export, pubkey)
    assert [(p.seq, p.kind) for p in report.problems] == [
        (3, ProblemKind.REMOVED),
        (9, ProblemKind.REORDERED),
    ]


def test_export_is_deterministic_and_lines_hold(key: AuditKey) -> None:
    chain = Chain(clock=step_clock())
    record = chain.append(actor="a", action="put", key="x\u2028y\x85z\u2029\n")
    lines = list(export_lines([record], []))
    assert lines == list(export_lines([record], []))
    assert lines[0] == '{"format":"domicile-audit-export","type":"header","version":1}'
    text = "\n".join(lines)
    assert len(text.splitlines()) == 2
    assert parse_lines(text.splitlines()) == ([record], [])


def test_blank_lines_and_bytes_are_accepted(key: AuditKey) -> None:
    log = build_log(key, 3)
    lines = [line.encode() for line in export_lines(log.records, log.checkpoints)]
    records, checkpoints = parse_lines([b"", *lines, b"   "])
    assert records == log.records and checkpoints == log.checkpoints


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("{not json", "line 2 is not JSON"),
        ("[1, 2]", "line 2 is not a JSON object"),
        ('{"type":"note"}', "line 2: unknown line type 'note'"),
        ('{"type":"record","seq":1}', "line 2: record fields differ"),
        ('{"type":"checkpoint","seq":1}', "line 2: checkpoint fields must be"),
        ('{"type":"header","format":"domicile-audit-export","version":2}', "version 2"),
        ('{"type":"record","type":"checkpoint"}', "duplicate key"),
    ],
)
def test_malformed_lines_name_their_number(line: str, words: str) -> None:
    header = next(export_lines([], []))
    with pytest.raises(AuditFormatError, match=words) as info:
        parse_lines([header, line])
    assert info.value.context["line"] == 2 and info.value.hint


def test_a_field_of_the_wrong_type_is_a_format_error(key: AuditKey) -> None:
    log = build_log(key, 2)
    lines = list(export_lines(log.records, []))
    body = json.loads(lines[2])
    body["time"] = 1.5
    with pytest.raises(AuditFormatError, match="line 3: time"):
        parse_lines([*lines[:2], json.dumps(body)])


def test_invalid_utf8_is_a_format_error() -> None:
    with pytest.raises(AuditFormatError, match="line 1 is not UTF-8"):
        parse_lines([b"\xff\xfe"])
