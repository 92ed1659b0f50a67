"""The streaming chain check (issue #22) finds exactly what the whole-chain check found,
and the fast parse of stored records is exactly as strict as :meth:`Record.from_body`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.audit import AuditKey, ChainReport, Head, Record, sign_checkpoint, verify_chain
from domicile.audit.record import Link, link_of
from domicile.errors import AuditFormatError

from . import legacy_verify
from .conftest import build_log, rechain

SETTINGS = settings(max_examples=300, deadline=None)


class Reread:
    """A re-iterable source of records, as the catalog reader is; counts its passes."""

    def __init__(self, records: Sequence[Any]) -> None:
        self.records = records
        self.passes = 0

    def __iter__(self) -> Iterator[Any]:
        self.passes += 1  # on the first record asked for: a generator
        yield from self.records


def plain(r: Any) -> tuple[Any, ...]:
    """A report as plain values (the oracle's classes are its own)."""
    found = [(p.seq, str(p.kind), p.message) for p in r.problems]
    return (r.ok, r.records, r.head, found, r.latest_checkpoint, r.unsigned, r.notices)


def same(a: ChainReport, b: Any) -> None:
    assert plain(a) == plain(b), f"\nstreaming: {a}\nwhole:     {b}"


TAMPERINGS = ("change", "relink", "remove", "insert", "swap", "truncate", "none")


def tamper(records: list[Record], how: str, i: int, j: int) -> list[Record]:
    out = list(records)
    if how == "change":
        out[i] = replace(out[i], actor=out[i].actor + "x")
    elif how == "relink":
        out = rechain([*out[:i], replace(out[i], time=out[i].time + 7), *out[i + 1 :]], i)
    elif how == "remove":
        del out[i : max(i + 1, j)]
    elif how == "insert":
        out.insert(j, replace(out[i], result="forged"))
    elif how == "swap":
        out[i], out[j] = out[j], out[i]
    elif how == "truncate":
        out = out[:i]
    return out


@SETTINGS
@given(
    n=st.integers(1, 30),
    every=st.integers(1, 7),
    hows=st.lists(st.sampled_from(TAMPERINGS), min_size=1, max_size=3),
    data=st.data(),
)
def test_streaming_finds_what_the_whole_chain_check_found(
    key: AuditKey, n: int, every: int, hows: list[str], data: st.DataObject
) -> None:
    log = build_log(key, n, every=every)
    records = log.records
    for how in hows:
        if not records:
            break
        i = data.draw(st.integers(0, len(records) - 1))
        j = data.draw(st.integers(0, len(records) - 1))
        records = tamper(records, how, i, j)
    cps = list(log.checkpoints)
    if data.draw(st.booleans()):  # a forged checkpoint too
        at = data.draw(st.integers(1, n))
        cps.append(replace(sign_checkpoint(key, at, "ab" * 32, 1), signature="AA" * 32))
    expected = None
    if data.draw(st.booleans()):
        at = data.draw(st.integers(1, n + 2))
        expected = Head(at, log.records[min(at, n) - 1].hash)
    head_cp = log.checkpoints[-1] if data.draw(st.booleans()) else None
    kw: dict[str, Any] = {"expected": expected, "expected_head": head_cp}
    whole = legacy_verify.verify_chain(records, cps, key.public, **kw)
    same(verify_chain(records, cps, key.public, **kw), whole)
    same(verify_chain(iter(records), cps, key.public, **kw), whole)
    source = Reread(records)
    same(verify_chain(source, cps, key.public, **kw), whole)
    ordered = all(a.seq < b.seq for a, b in itertools.pairwise(records))
    assert source.passes == (1 if ordered else 2)
    links = [Link(r.seq, r.prev, r.hash, r.canonical) for r in records]
    same(verify_chain(Reread(links), cps, key.public, **kw), whole)


def test_a_long_ordered_chain_is_read_once(key: AuditKey) -> None:
    log = build_log(key, 3000, every=500)
    source = Reread(log.records)
    report = verify_chain(source, log.checkpoints, key.public)
    assert report.ok and report.records == 3000 and source.passes == 1


# --- the fast parse of stored records -----------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**54), 2**54),
    st.floats(allow_nan=False),
    st.text(max_size=4),
    st.sampled_from(["\ud800", "x\udfff", "é", "0" * 64]),
    st.lists(st.integers(0, 3), max_size=2),
)


@st.composite
def bodies(draw: st.DrawFn) -> Any:
    chain_log = build_log(AuditKey.generate(), 2, every=2)
    body: dict[str, Any] = json.loads(chain_log.records[1].canonical)
    for _ in range(draw(st.integers(0, 2))):
        field = draw(st.sampled_from([*sorted(body), "extra"]))
        if draw(st.booleans()) and field in body:
            del body[field]
        else:
            body[field] = draw(scalars)
    if draw(st.booleans()):
        body["detail"] = draw(
            st.dictionaries(st.sampled_from(["size", "Bad", "ok.k", "", "é"]), scalars, max_size=3)
        )
    if draw(st.booleans()):
        body["sites"] = draw(st.lists(scalars, max_size=3))
    return body


@SETTINGS
@given(body=bodies())
def test_the_fast_parse_is_exactly_as_strict(body: Any) -> None:
    text = json.dumps(body, ensure_ascii=True)
    try:
        record = Record.from_body(json.loads(text))
        want = Link(record.seq, record.prev, record.hash, record.canonical)
    except AuditFormatError:
        with pytest.raises(AuditFormatError):
            link_of(text)
        return
    assert link_of(text) == want


def test_the_fast_parse_reads_any_spelling() -> None:
    record = build_log(AuditKey.generate(), 1).records[0]
    spelled = json.dumps(json.loads(record.canonical), indent=1, ensure_ascii=True)
    link = Link(record.seq, record.prev, record.hash, record.canonical)
    assert link_of(spelled) == link
    # As Record.from_body: a version spelled 1.0 is version 1, hashed as 1.
    assert link_of(spelled.replace('"v": 1', '"v": 1.0')) == link
    with pytest.raises(AuditFormatError):
        link_of(spelled.replace('"v": 1', '"v": 2'))
