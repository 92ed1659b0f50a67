"""Records: the canonical bytes pinned byte for byte, validation, and the chain builder."""

from __future__ import annotations

import hashlib
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import pytest

from domicile.audit import ZERO, Chain, Record, canonical_bytes
from domicile.errors import AuditFormatError

from .conftest import T0, step_clock

# Written by hand from docs/audit.md, not produced by the code under test.
PINNED = (
    '{"action":"put","actor":"tenant-a:AKIAEXAMPLE","bucket":"minutes",'
    '"detail":{"multipart":false,"size":1024},"key":"board/\u00e9 2024.pdf",'
    '"policy":"eu-only@3","prev":"' + "0" * 64 + '","result":"ok","seq":1,'
    '"sites":["fra-1","par-2"],"time":1700000000000000,"v":1,"version":"v1"}'
).encode()
PINNED_HASH = "7bc880aee1c7b91b399588f6d4c9ddc327949cab8607ee4b658f6e8e4b508634"


def pinned_record(**changes: object) -> Record:
    fields: dict[str, object] = {
        "seq": 1,
        "time": T0,
        "actor": "tenant-a:AKIAEXAMPLE",
        "action": "put",
        "bucket": "minutes",
        "key": "board/\u00e9 2024.pdf",
        "version": "v1",
        "sites": ("fra-1", "par-2"),
        "policy": "eu-only@3",
        "result": "ok",
        "prev": ZERO,
        "detail": {"size": 1024, "multipart": False},
    }
    fields.update(changes)
    return Record(**fields)  # type: ignore[arg-type]


def test_canonical_bytes_are_pinned() -> None:
    record = pinned_record()
    assert canonical_bytes(record) == PINNED
    assert record.hash == hashlib.sha256(PINNED).hexdigest() == PINNED_HASH


def test_non_ascii_is_raw_utf8_and_controls_are_escaped() -> None:
    record = pinned_record(key='a\n"b\\\u00e9\u4e2d\U0001f600\x7f')
    body = canonical_bytes(record)
    assert '"key":"a\\n\\"b\\\\\u00e9\u4e2d\U0001f600\x7f"'.encode() in body
    assert b" " not in body.replace(b"board/\xc3\xa9 2024", b"")


def test_every_field_changes_the_hash() -> None:
    base = pinned_record()
    variants = [
        replace(base, seq=2),
        replace(base, time=T0 + 1),
        replace(base, actor="cli:root"),
        replace(base, action="delete"),
        replace(base, bucket=None),
        replace(base, key="other"),
        replace(base, version=None),
        replace(base, sites=("fra-1",)),
        replace(base, policy="eu-only@4"),
        replace(base, result="refused"),
        replace(base, prev="1" * 64),
        replace(base, detail={"size": 1025, "multipart": False}),
    ]
    hashes = {v.hash for v in variants} | {base.hash}
    assert len(hashes) == len(variants) + 1


def test_records_are_frozen_hashable_and_detail_is_read_only() -> None:
    record = pinned_record()
    assert record == pinned_record() and hash(record) == hash(pinned_record())
    assert {record, pinned_record()} == {record}
    with pytest.raises(FrozenInstanceError):
        record.seq = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        record.detail["size"] = 1  # type: ignore[index]


def test_detail_order_does_not_matter() -> None:
    a = pinned_record(detail={"a": 1, "b": "x"})
    b = pinned_record(detail={"b": "x", "a": 1})
    assert a.canonical == b.canonical


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"seq": 0}, "seq"),
        ({"seq": True}, "seq"),
        ({"time": 1.5}, "time"),
        ({"time": -1}, "time"),
        ({"time": 2**53}, "time"),
        ({"actor": None}, "actor"),
        ({"bucket": 3}, "bucket"),
        ({"key": "bad\ud800"}, "surrogate"),
        ({"sites": "fra-1"}, "sites"),
        ({"sites": ("fra-1", 2)}, "sites"),
        ({"prev": "0" * 63}, "prev"),
        ({"prev": "A" * 64}, "prev"),
        ({"detail": {"ratio": 0.5}}, "ratio"),
        ({"detail": {"Bad Key": 1}}, "Bad Key"),
        ({"detail": {"n": -(2**53)}}, "n"),
        ({"detail": ["x"]}, "mapping"),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, object], words: str) -> None:
    with pytest.raises(AuditFormatError, match=words.replace("(", r"\(")) as info:
        pinned_record(**changes)
    assert info.value.hint


def test_body_round_trips() -> None:
    record = pinned_record(detail={"n": 2**53 - 1, "none": None, "s": "x", "t": True})
    assert Record.from_body(record.body()) == record


def test_from_body_refuses_other_shapes() -> None:
    body = pinned_record().body()
    with pytest.raises(AuditFormatError, match="extra"):
        Record.from_body({**body, "hash": "x"})
    with pytest.raises(AuditFormatError, match="v2"):
        Record.from_body({**body, "v": 2})
    with pytest.raises(AuditFormatError, match="sites"):
        Record.from_body({**body, "sites": "fra-1"})


def test_chain_fills_seq_prev_and_time() -> None:
    chain = Chain(clock=step_clock(T0, 10))
    assert chain.head == (0, ZERO)
    first = chain.append(actor="cli:root", action="bucket-create", bucket="minutes")
    second = chain.append(actor="cli:root", action="put", bucket="minutes", key="a", time=5)
    assert (first.seq, first.prev, first.time) == (1, ZERO, T0)
    assert (second.seq, second.prev, second.time) == (2, first.hash, 5)
    assert chain.head == (2, second.hash)
    assert first.result == "ok" and first.sites == () and dict(first.detail) == {}


def test_chain_resumes_from_a_stored_head() -> None:
    whole = Chain(clock=step_clock())
    records = [whole.append(actor="a", action="put") for _ in range(3)]
    resumed = Chain(2, records[1].hash, clock=step_clock(T0 + 2_000))
    assert resumed.append(actor="a", action="put") == records[2]


def test_a_refused_append_leaves_the_head() -> None:
    chain = Chain(clock=step_clock())
    chain.append(actor="a", action="put")
    head = chain.head
    with pytest.raises(AuditFormatError):
        chain.append(actor="a", action="put", detail={"x": 1.0})  # type: ignore[dict-item]
    assert chain.head == head


@pytest.mark.parametrize(("seq", "head"), [(-1, ZERO), (0, "1" * 64)])
def test_chain_refuses_an_inconsistent_head(seq: int, head: str) -> None:
    with pytest.raises(AuditFormatError):
        Chain(seq, head)


def test_the_documented_example_is_the_pinned_record() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "audit.md").read_text(encoding="utf-8")
    assert PINNED.decode() in docs.splitlines()
    assert PINNED_HASH in docs
