"""Fixtures for the audit tests: a signing key and a helper that builds signed chains."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from domicile.audit import AuditKey, Chain, Checkpoint, Record, sign_checkpoint

T0 = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z in microseconds


@dataclass
class Log:
    """A built chain: its records, its checkpoints and the key that signed them."""

    records: list[Record]
    checkpoints: list[Checkpoint]
    key: AuditKey


def step_clock(start: int = T0, step: int = 1_000) -> Callable[[], int]:
    counter = itertools.count(start, step)
    return lambda: next(counter)


def build_log(key: AuditKey, n: int, *, every: int = 4, final: bool = True) -> Log:
    """``n`` records, a checkpoint every ``every`` records and (if ``final``) at the end."""
    chain = Chain(clock=step_clock())
    records, checkpoints = [], []
    for i in range(1, n + 1):
        record = chain.append(
            actor=f"tenant-{i % 3}:AKIA{i:04d}",
            action=("put", "delete", "place", "get")[i % 4],
            bucket="minutes",
            key=f"board/2024/{i:03d}.pdf",
            version=f"v{i}",
            sites=("fra-1", "par-2") if i % 2 else ("fra-1",),
            policy="eu-only@3",
            result="ok" if i % 5 else "refused",
            detail={"size": i * 100, "multipart": i % 2 == 0},
        )
        records.append(record)
        if i % every == 0 or (final and i == n):
            checkpoints.append(sign_checkpoint(key, record.seq, record.hash, record.time + 1))
    return Log(records, checkpoints, key)


def rechain(records: list[Record], start: int) -> list[Record]:
    """Recompute the prev links from index ``start`` on (what a forger would do)."""
    out = list(records[:start])
    for record in records[start:]:
        prev = out[-1].hash if out else "0" * 64
        out.append(replace(record, prev=prev))
    return out


@pytest.fixture(scope="session")
def key() -> AuditKey:
    return AuditKey.generate()


@pytest.fixture(scope="session")
def other_key() -> AuditKey:
    return AuditKey.generate()
