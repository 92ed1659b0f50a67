"""The per-minute tally of refused requests (domicile.engine.refusals): one record per
(minute, who, code), written when its minute closes or on a full flush; nothing lost when
an append fails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from domicile.engine.refusals import ACTION, RefusalTally

Events = Sequence[tuple[str, Mapping[str, Any]]]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def details(batches: list[Events]) -> list[tuple[str, str, int, str]]:
    out = []
    for batch in batches:
        for action, fields in batch:
            assert action == ACTION and fields["result"] == "refused"
            d = fields["detail"]
            out.append((d["who"], d["code"], d["count"], d["minute"]))
    return out


def test_counts_are_aggregated_and_written_when_the_minute_closes() -> None:
    written: list[Events] = []
    clock = Clock(1_800_000_000.0)  # 2027-01-15T08:00:00Z
    tally = RefusalTally(written.append, clock)
    for _ in range(1000):
        tally.count("acme:AKID", "SignatureDoesNotMatch")
    tally.count("unknown", "InvalidAccessKeyId")
    tally.count("anonymous", "AccessDenied")
    assert written == [] and tally.flush() == 0  # the minute is still open
    clock.now += 60
    tally.count("acme:AKID", "SignatureDoesNotMatch")  # the next minute closes the first
    assert sorted(details(written)) == [
        ("acme:AKID", "SignatureDoesNotMatch", 1000, "2027-01-15T08:00Z"),
        ("anonymous", "AccessDenied", 1, "2027-01-15T08:00Z"),
        ("unknown", "InvalidAccessKeyId", 1, "2027-01-15T08:00Z"),
    ]
    assert tally.pending() == 1
    assert tally.flush(everything=True) == 1
    assert details(written[1:]) == [("acme:AKID", "SignatureDoesNotMatch", 1, "2027-01-15T08:01Z")]
    assert tally.pending() == 0


def test_a_failed_append_keeps_the_counts() -> None:
    clock = Clock(1_800_000_000.0)
    calls: list[Events] = []

    def failing(events: Events) -> None:
        calls.append(events)
        if len(calls) == 1:
            raise OSError("catalog unavailable")

    tally = RefusalTally(failing, clock)
    tally.count("anonymous", "AccessDenied")
    with pytest.raises(OSError):
        tally.flush(everything=True)
    tally.count("anonymous", "AccessDenied")
    assert tally.flush(everything=True) == 1
    assert details(calls[1:]) == [("anonymous", "AccessDenied", 2, "2027-01-15T08:00Z")]
