"""Reports over time: where every copy rested during a period, and whether its bucket's
policy, as it was at that moment, allowed the site as it was defined then.

:func:`build_history` answers only from the **verified** audit chain. It first runs the
same verification as ``domicile audit verify`` (the catalog's chain against every
checkpoint on every site) and raises :class:`~domicile.errors.AuditAltered` unless it
passes: no report is ever made from unverified data. It then reads the records once, in
order, up to the head that verification vouched for, rehashing each stored body and
checking each link as it goes (a record changed between the verification and the read
is caught too), and feeds them to :class:`~domicile.engine.facts.replay.Replay`, which
keeps only the definitions in force and the live copies. Each copy is judged by
:func:`domicile.policy.check_copy` over the definitions the chain recorded
(:mod:`domicile.engine.facts.judge`); bloc membership comes from today's registry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator

from domicile.audit import ZERO
from domicile.engine.context import EngineContext
from domicile.engine.facts.evidence import ChainStatus, chain_status, registry_info
from domicile.engine.facts.history_model import HistoryReport
from domicile.engine.facts.judge import Judge
from domicile.engine.facts.model import Scope
from domicile.engine.facts.replay import Replay
from domicile.errors import AuditAltered, BucketNotFound, ConfigError

#: Records read from the catalog per query.
BATCH = 5000


def build_history(
    ctx: EngineContext,
    *,
    deployment: str,
    start: float,
    end: float,
    bucket: str | None = None,
    tenant: str | None = None,
    now: float | None = None,
) -> HistoryReport:
    """The history of one bucket, one tenant's buckets, or (neither given) every bucket,
    over ``[start, end]`` (epoch seconds). ValueError for an empty period or both scopes;
    AuditAltered when the chain does not verify; BucketNotFound for a ``bucket`` the chain
    never created (one deleted since is reported on)."""
    if bucket is not None and tenant is not None:
        raise ValueError("a report covers one bucket or one tenant, not both")
    if end < start:
        raise ValueError("the period ends before it starts")
    chain = verified_chain(ctx)
    judge = Judge(ctx.world.registry, {e.id: e.name for e in ctx.world.entities.values()})

    def in_scope(name: str, owner: str) -> bool:
        if bucket is not None:
            return name == bucket
        return tenant is None or owner == tenant

    replay = Replay(start, end, judge, in_scope)
    for body in verified_bodies(ctx, chain):
        replay.feed(body)
    buckets, policies, residences = replay.finish()
    if bucket is not None and bucket not in replay.seen:
        raise BucketNotFound(
            f"bucket {bucket!r} was never created, as far as the audit chain says",
            hint="'domicile ls' lists today's buckets",
            bucket=bucket,
        )
    kind, name = ("bucket", bucket) if bucket else ("tenant", tenant) if tenant else ("all", None)
    return HistoryReport(
        deployment=deployment,
        generated_at=time.time() if now is None else now,
        start=start,
        end=end,
        scope=Scope(kind, name, tuple(b.bucket for b in buckets)),
        buckets=buckets,
        policies=policies,
        residences=residences,
        windows=tuple(sorted(replay.windows, key=lambda w: (w.bucket, w.site.id, w.start, w.end))),
        copies=replay.copies,
        versions=replay.versions,
        records=replay.records,
        blocs=tuple(sorted(judge.blocs)),
        chain=chain,
        registry=registry_info(ctx.world.registry, ctx.registry_warnings),
    )


def verified_chain(ctx: EngineContext) -> ChainStatus:
    """The chain's full verification; AuditAltered naming the problem of the lowest seq
    (the first bad record) unless ok."""
    if ctx.audit is None:
        raise ConfigError("a report over time needs the audit log, and this engine has none")
    chain = chain_status(ctx.audit)
    if not chain.ok:
        first = min(chain.problems, key=lambda p: p.seq, default=None)
        what = f"seq {first.seq}: {first.kind}: {first.message}" if first else "no records"
        raise AuditAltered(
            f"the audit chain does not verify, so no history is reported: {what}",
            hint="'domicile audit verify' lists every problem",
            seq=first.seq if first else None,
            kind=first.kind if first else None,
        )
    return chain


def verified_bodies(ctx: EngineContext, chain: ChainStatus) -> Iterator[dict[str, object]]:
    """The record bodies up to the verified head, in order, each rehashed and linked to the
    previous one (AuditAltered on the first that is not what was verified)."""
    assert ctx.audit is not None
    head = chain.head_seq or 0
    since, prev = 0, None
    while since < head:
        rows = ctx.catalog.audit_records(since=since, limit=min(BATCH, head - since))
        if not rows:
            break
        for seq, digest, text in rows:
            body = json.loads(text)
            linked = (
                body.get("prev") == prev
                if prev is not None
                else seq > 1 or (body.get("prev") == ZERO)
            )
            if (
                hashlib.sha256(text.encode("utf-8")).hexdigest() != digest
                or body.get("seq") != seq
                or (prev is not None and seq != since + 1)
                or not linked
            ):
                raise _changed(seq)
            prev, since = digest, seq
            yield body
    if since != head or (head and prev != chain.head_hash):
        raise _changed(since + 1)


def _changed(seq: int) -> AuditAltered:
    return AuditAltered(
        f"audit record {seq} changed after the chain was verified: no history is reported",
        hint="run 'domicile audit verify'",
        seq=seq,
    )
