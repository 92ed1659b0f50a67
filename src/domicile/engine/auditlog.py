"""The deployment's audit log: events appended to a hash chain in the catalog, signed
checkpoints in the catalog and on every site, and verification from either.

Appends run in a catalog write transaction that reads the head first, so concurrent
writers (threads, or a CLI next to a gateway) never fork the chain. A checkpoint is
signed with the deployment's Ed25519 audit key every ``every_records`` records or
``every_seconds`` seconds and written to every writable site as a small public blob
(``ckpt-<seq>``): rewriting history then needs the catalog and every site at once.

Each record names its actor: the log's fixed ``actor`` (``cli:<user>``), unless the code
appending it runs inside :func:`acting_as` (the gateway, per request: ``tenant:ACCESSKEY``).
The override is a context variable, so it follows ``contextvars.copy_context().run`` onto a
pool thread and never leaks between threads; engine code that hands work to its own pool
threads copies the context along (``engine.plan.apply_plan``).
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domicile.audit import (
    ZERO,
    AuditKey,
    Chain,
    ChainReport,
    Checkpoint,
    CheckpointPolicy,
    Record,
    Scalar,
    load_private_key,
    save_private_key,
    sign_checkpoint,
    verify_chain,
    wall_clock_us,
)
from domicile.catalog import Catalog
from domicile.catalog.base import AuditBuilder
from domicile.errors import SiteError
from domicile.sites import Site

CHECKPOINT_PREFIX = "ckpt-"

_ACTOR: ContextVar[str | None] = ContextVar("domicile_audit_actor", default=None)


def acting_as(actor: str) -> contextlib.AbstractContextManager[None]:
    """Within the block, audit records made in this context name ``actor``.

    ValueError at once (not on entering) if ``actor`` is not a non-empty string."""
    if not isinstance(actor, str) or not actor.strip():
        raise ValueError("an audit actor is a non-empty string (tenant:ACCESSKEY, cli:user)")
    return _acting(actor)


@contextlib.contextmanager
def _acting(actor: str) -> Iterator[None]:
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def current_actor() -> str | None:
    """The actor set by the innermost :func:`acting_as` in this context, if any."""
    return _ACTOR.get()


def cli_actor() -> str:
    """The actor of commands run from the CLI: ``cli:<user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid-{os.getuid()}"


def open_audit_key(path: Path) -> tuple[AuditKey, bool]:
    """The audit key at ``path``, created (0600) if absent; True when it was created."""
    if path.exists():
        return load_private_key(path), False
    key = AuditKey.generate()
    save_private_key(path, key)
    return key, True


class AuditLog:
    """Append events, checkpoint them, and verify the chain."""

    def __init__(
        self,
        catalog: Catalog,
        key: AuditKey,
        sites: Mapping[str, Site],
        *,
        actor: str,
        policy: CheckpointPolicy | None = None,
    ) -> None:
        self._catalog = catalog
        self._key = key
        self._sites = sites
        self.actor = actor
        self._policy = policy or CheckpointPolicy()
        self._lock = threading.Lock()
        stored = catalog.audit_checkpoints()
        self._last_cp = Checkpoint.from_dict(json.loads(stored[-1])) if stored else None

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public

    def record(self, action: str, **fields: Any) -> Record:
        """Append one event (fields as for :meth:`builder`); sign a checkpoint when due."""
        build, made = self.builder(action, **fields)
        self._catalog.append_audit(build)
        return self.appended(made)

    def record_many(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Record]:
        """Append ``(action, fields)`` events in order in one catalog transaction (fields as
        for :meth:`builder`, but no ``actor``); sign a checkpoint when due. Far cheaper than one
        :meth:`record` each when there are many (a verify run)."""
        if not events:
            return []
        who = _ACTOR.get() or self.actor
        made: list[Record] = []

        def build(seq: int, head: str) -> list[tuple[int, str, str]]:
            made.clear()  # a retried transaction builds again from the new head
            chain = Chain(seq, head or ZERO)
            made.extend(chain.append(actor=who, action=a, **fields) for a, fields in events)
            return [(r.seq, r.hash, r.canonical.decode("utf-8")) for r in made]

        self._catalog.append_audit(build)
        self.appended(made)
        return list(made)

    def builder(
        self,
        action: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        version: str | None = None,
        sites: Sequence[str] = (),
        policy: str | None = None,
        result: str = "ok",
        detail: Mapping[str, Scalar] | None = None,
        actor: str | None = None,
    ) -> tuple[AuditBuilder, list[Record]]:
        """A builder for the catalog to run inside a mutation's own transaction, and the
        list it fills with the record; pass that list to :meth:`appended` afterwards."""
        made: list[Record] = []
        who = actor or _ACTOR.get() or self.actor  # resolved here, in the caller's context

        def build(seq: int, head: str) -> list[tuple[int, str, str]]:
            record = Chain(seq, head or ZERO).append(
                actor=who,
                action=action,
                result=result,
                bucket=bucket,
                key=key,
                version=version,
                sites=tuple(sites),
                policy=policy,
                detail=detail,
            )
            made[:] = [record]  # a group commit may run this again, alone
            return [(record.seq, record.hash, record.canonical.decode("utf-8"))]

        return build, made

    def appended(self, made: list[Record]) -> Record:
        """After a builder ran: sign a checkpoint when one is due; return the record."""
        record = made[-1]
        if self._policy.due(record.seq, wall_clock_us(), self._last_cp):
            self.checkpoint(record.seq, record.hash)
        return record

    def checkpoint(self, seq: int | None = None, head: str | None = None) -> Checkpoint | None:
        """Sign the head (or ``seq``/``head``), store it in the catalog and on every site."""
        if seq is None or head is None:
            rows = self._catalog.audit_records(since=0, limit=10**12)
            if not rows:
                return None
            seq, head = rows[-1][0], rows[-1][1]
        with self._lock:
            cp = sign_checkpoint(self._key, seq, head, wall_clock_us())
            self._catalog.add_audit_checkpoint(seq, json.dumps(cp.to_dict(), sort_keys=True))
            self._last_cp = cp
        for site in self._sites.values():
            try:
                site.put(f"{CHECKPOINT_PREFIX}{seq:020d}", [cp.to_bytes()])
            except SiteError:
                continue  # the next checkpoint goes there again; verify reads every site
        return cp

    def seal(self) -> Checkpoint | None:
        """Sign the head if records were appended since the last checkpoint (on close)."""
        rows = self._catalog.audit_records(since=self._last_cp.seq if self._last_cp else 0)
        if not rows:
            return None
        return self.checkpoint(rows[-1][0], rows[-1][1])

    def records(self, since: int = 0) -> Iterator[Record]:
        """Every record after ``since``, in order, parsed from the catalog."""
        while True:
            rows = self._catalog.audit_records(since=since, limit=5000)
            for _, _, body in rows:
                yield Record.from_body(json.loads(body))
            if len(rows) < 5000:
                return
            since = rows[-1][0]

    def records_of(self, actions: Sequence[str]) -> Iterator[Record]:
        """Every record whose action is one of ``actions``, in order (one scan of the
        chain; bodies of other actions are skipped without being parsed)."""
        needles = [f'"action":{json.dumps(a)}' for a in actions]
        since = 0
        while True:
            rows = self._catalog.audit_records(since=since, limit=5000)
            for _, _, body in rows:
                if any(n in body for n in needles):
                    yield Record.from_body(json.loads(body))
            if len(rows) < 5000:
                return
            since = rows[-1][0]

    def record_hash(self, seq: int) -> str | None:
        """The hash of record ``seq`` as the catalog holds it (None if there is none)."""
        if seq < 1:
            return None
        rows = self._catalog.audit_records(since=seq - 1, limit=1)
        return rows[0][1] if rows and rows[0][0] == seq else None

    def checkpoints(self) -> list[Checkpoint]:
        return [Checkpoint.from_dict(json.loads(b)) for b in self._catalog.audit_checkpoints()]

    def site_checkpoints(self) -> list[Checkpoint]:
        """The newest checkpoint found on each reachable site."""
        found: list[Checkpoint] = []
        for site in self._sites.values():
            try:
                latest = max((i.blob_id for i in site.list(CHECKPOINT_PREFIX)), default=None)
                if latest is not None:
                    data = b"".join(site.get(latest))
                    found.append(Checkpoint.from_dict(json.loads(data)))
            except (SiteError, ValueError):
                continue
        return found

    def verify(self) -> ChainReport:
        """Recompute the chain from the catalog; check every signature; detect truncation
        against the newest checkpoint found on the sites."""
        on_sites = self.site_checkpoints()
        newest = max(on_sites, key=lambda c: c.seq, default=None)
        return verify_chain(
            self.records(),
            [*self.checkpoints(), *on_sites],
            self._key.public,
            expected_head=newest,
        )
