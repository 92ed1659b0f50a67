"""The deployment's audit log: events appended to a hash chain in the catalog, signed
checkpoints in the catalog and on every site, and verification from either.

Appends run in a catalog write transaction that reads the head first, so concurrent
writers (threads, or a CLI next to a gateway) never fork the chain. A checkpoint is
signed with the deployment's Ed25519 audit key every ``every_records`` records or
``every_seconds`` seconds and written once to every writable site as a small public blob
(``ckpt-<seq>``): rewriting history then needs the catalog and every site at once. Nothing
is signed before it is verified (:mod:`domicile.engine.auditseal`): a log found altered
raises :class:`~domicile.errors.AuditAltered` and refuses every later record and seal.

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
    Head,
    Record,
    Scalar,
    load_private_key,
    save_private_key,
    verify_chain,
    wall_clock_us,
)
from domicile.audit.evidence import CHECKPOINT_PREFIX, weigh
from domicile.audit.record import Link, link_of
from domicile.audit.verify import with_findings
from domicile.catalog import Catalog
from domicile.catalog.base import AuditBuilder
from domicile.crypto import Recipient
from domicile.engine.audithistory import ship
from domicile.engine.auditseal import Sealer
from domicile.engine.auditsites import read_all
from domicile.engine.tlog import RootCheck, TreeLog
from domicile.errors import AuditAltered
from domicile.sites import Site

__all__ = ["CHECKPOINT_PREFIX", "AuditLog", "acting_as", "cli_actor", "open_audit_key"]

_PAGE = 5000

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
        history: Sequence[Recipient] = (),
        tree: TreeLog | None = None,
    ) -> None:
        """``history``: the recipients the audit history shipped to the sites with each
        checkpoint is encrypted to (:mod:`domicile.engine.audithistory`); none: not shipped."""
        self._catalog = catalog
        self._history = list(history)
        self._shipped: dict[str, int] = {}  # the last seq each site holds, as far as we know
        #: The transparency log over the same records (:mod:`domicile.engine.tlog`).
        self.tree = tree
        self._key = key
        self._sites = sites
        self.actor = actor
        self._policy = policy or CheckpointPolicy()
        self._lock = threading.Lock()
        stored = catalog.audit_checkpoints()
        self._last_cp = Checkpoint.from_dict(json.loads(stored[-1])) if stored else None
        self._sealer = Sealer(catalog, key, sites, self.verify)
        # A catalog with no records continues the history signed on the sites (lost catalog).
        self._base = self._sealer.base() if not catalog.audit_records(0, 1) else Head(0, ZERO)

    def _start(self, seq: int, head: str) -> Chain:
        """The chain to append to, given the catalog's head (seq 0: an empty catalog)."""
        if seq == 0:
            return Chain(*self._base)
        return Chain(seq, head or ZERO)

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self._key.public

    def record(self, action: str, **fields: Any) -> Record:
        """Append one event (fields as for :meth:`builder`); sign a checkpoint when due."""
        self._sealer.vet()
        build, made = self.builder(action, **fields)
        self._catalog.append_audit(build)
        return self.appended(made)

    def record_many(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Record]:
        """Append ``(action, fields)`` events in order in one catalog transaction (fields as
        for :meth:`builder`, but no ``actor``); sign a checkpoint when due. Far cheaper than one
        :meth:`record` each when there are many (a verify run)."""
        if not events:
            return []
        self._sealer.vet()
        who = _ACTOR.get() or self.actor
        made: list[Record] = []

        def build(seq: int, head: str) -> list[tuple[int, str, str]]:
            made.clear()  # a retried transaction builds again from the new head
            chain = self._start(seq, head)
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
        list it fills with the record; pass that list to :meth:`appended` afterwards.
        Raises :class:`~domicile.errors.AuditAltered` once this log was found altered."""
        self._sealer.vet()
        made: list[Record] = []
        who = actor or _ACTOR.get() or self.actor  # resolved here, in the caller's context

        def build(seq: int, head: str) -> list[tuple[int, str, str]]:
            record = self._start(seq, head).append(
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
        """Verify the chain up to ``seq``/``head`` (a record just appended; None: the
        catalog's head) from the last head this process trusts, then sign it and store the
        checkpoint on every site (write-once) and in the catalog. None when there was
        nothing newer to sign. :class:`~domicile.errors.AuditAltered` if the chain or the
        sites' checkpoints do not verify: then nothing is signed, written or stored."""
        target = Head(seq, head) if seq is not None and head is not None else None
        with self._lock:
            cp = self._sealer.seal(target, strict=target is None)
            if cp is None:
                return None
            self._last_cp = cp
            # What the sealer just verified up to the signed head: shipping and the tree
            # start from it when they start where it did (the usual case), else they read
            # the catalog.
            verified = self._sealer.verified
        if not verified or verified[-1].seq != cp.seq:
            verified = []
        try:
            if self._history:
                ship(
                    self._catalog, self._sites, self._history, cp, self._shipped, verified=verified
                )
            if self.tree is not None:
                self.tree.extend(cp, verified)
        except AuditAltered as exc:
            self._sealer.altered = exc  # latched like the sealer's own findings
            raise
        return cp

    def seal(self) -> Checkpoint | None:
        """Sign the head if it is not signed yet (on close), verified as :meth:`checkpoint`
        does; nothing to do (None) when the newest checkpoint covers the head."""
        if not self._catalog.audit_records(0, 1):
            return None
        last = self._last_cp
        if (
            last is not None
            and not self._catalog.audit_records(since=last.seq, limit=1)
            and self.record_hash(last.seq) == last.head_hash
        ):
            return None
        return self.checkpoint()

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

    def verify(
        self, expected: Head | None = None, expected_checkpoint: Checkpoint | None = None
    ) -> ChainReport:
        """Recompute the chain from the catalog; check every signature; compare the catalog
        with every checkpoint on every reachable site (see :mod:`domicile.audit.evidence`):
        a truncated catalog, a rewritten record, a forged or conflicting site checkpoint
        all show. ``expected``: a head the caller vouches for (``--expect-head``);
        ``expected_checkpoint``: a checkpoint file the caller fetched (signature checked)."""
        files, whole, notices = read_all(self._sites)
        catalog_cps = self.checkpoints()
        evidence = weigh(files, catalog_cps, self._key.public, sites=whole)
        roots = self.tree.root_check() if self.tree is not None else None
        report = verify_chain(
            StoredLinks(self._catalog, roots),
            [*catalog_cps, *evidence.valid],
            self._key.public,
            expected_head=expected_checkpoint,
            expected=expected,
        )
        problems, more = list(evidence.problems), [*notices, *evidence.notices]
        if self.tree is not None:
            tree_problems, tree_notices = self.tree.findings(roots)
            problems += tree_problems
            more += tree_notices
        return with_findings(report, problems, more)


class StoredLinks:
    """The catalog's audit records as :class:`~domicile.audit.record.Link` s, in seq order,
    a page at a time: what :func:`verify_chain` streams (it may iterate again, to place
    records out of order). The first pass also feeds ``roots`` the records' canonical
    bytes, so the transparency tree is recomputed in the same read."""

    def __init__(self, catalog: Catalog, roots: RootCheck | None = None) -> None:
        self._catalog = catalog
        self._roots = roots

    def __iter__(self) -> Iterator[Link]:
        roots, self._roots = self._roots, None
        since = 0
        while True:
            rows = self._catalog.audit_records(since=since, limit=_PAGE)
            for seq, _, body in rows:
                link = link_of(body)
                if roots is not None and not roots.add(seq, link.canonical):
                    roots = None
                yield link
            if len(rows) < _PAGE:
                return
            since = rows[-1][0]
