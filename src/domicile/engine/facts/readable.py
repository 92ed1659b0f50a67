"""Which copies domicile can vouch are readable, from what it has verified (never assumed).

A copy counts as **readable** when all of these hold:

1. its placement is in state ``ok``: written and checked by domicile, and not marked
   ``missing`` or ``corrupt`` by ``domicile verify`` since;
2. no read of it has failed since it was last verified: a fault recorded by a GET or a
   verification (unreachable, not found, corrupt, short read, error) newer than the
   copy's ``verified_at`` is domicile's latest word on it;
3. its site is in the configuration, opened, and of a status that serves reads
   (``active`` or ``draining``; never ``suspended`` or ``retired``).

The report itself reads no site: how recent the checks are is the report's
``verification`` section (run ``domicile verify`` before the report for a fresh answer).
:func:`readability` gathers the catalog's open faults once, so judging a copy costs no
query.
"""

from __future__ import annotations

from collections.abc import Iterable

from domicile.catalog import Fault, Placement
from domicile.engine.context import EngineContext


class Readability:
    """Judges copies of one catalog and configuration (see the module docstring)."""

    def __init__(self, ctx: EngineContext, faults: Iterable[Fault]) -> None:
        self._ctx = ctx
        self._failed: dict[tuple[str, str], Fault] = {}
        for f in faults:
            key = (f.version_id, f.site_id)
            if key not in self._failed or f.seen_at > self._failed[key].seen_at:
                self._failed[key] = f

    def why_not(self, p: Placement) -> str | None:
        """None when the copy ``p`` is readable, else the first rule it fails, as a phrase
        (``marked missing by verify``, ``site suspended``, ...)."""
        if p.state != "ok":
            return f"marked {p.state} by verify"
        fault = self._failed.get((p.version_id, p.site_id))
        if fault is not None and (p.verified_at is None or fault.seen_at > p.verified_at):
            return f"a read failed ({fault.kind}) after its last verification"
        spec = self._ctx.world.sites.get(p.site_id)
        if spec is None:
            return "site not in the configuration"
        if not spec.status.readable:
            return f"site {spec.status.value}"
        if p.site_id not in self._ctx.sites:
            return "site not opened"
        return None


def readability(ctx: EngineContext) -> Readability:
    """A judge over the catalog's open faults as they are now."""
    return Readability(ctx, ctx.catalog.open_faults())
