"""A plan's steps as lists, for tests on a handful of objects (the engine streams them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from domicile.engine import Blocked, Domicile, PlanSummary, Step


@dataclass
class Planned:
    summary: PlanSummary
    steps: list[Step] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)

    @property
    def adds(self) -> list[Step]:
        return [s for s in self.steps if s.action == "add"]

    @property
    def removes(self) -> list[Step]:
        return [s for s in self.steps if s.action == "remove"]

    @property
    def violations(self) -> list[Step]:
        return [s for s in self.steps if s.violation]

    @property
    def empty(self) -> bool:
        return self.summary.empty


def planned(engine: Domicile, bucket: str | None = None) -> Planned:
    steps: list[Step] = []
    blocked: list[Blocked] = []

    def keep(item: Step | Blocked) -> None:
        (steps if isinstance(item, Step) else blocked).append(item)  # type: ignore[arg-type]

    summary = engine.plan(bucket=bucket, on_step=keep)
    return Planned(summary, steps, blocked)
