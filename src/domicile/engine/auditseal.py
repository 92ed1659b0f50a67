"""Sealing: sign the audit head only after verifying it, and publish checkpoints write-once.

:class:`Sealer` holds the one head this process trusts (its *anchor*): the head it last
verified or signed. The first time it is asked to seal, it establishes the anchor from the
evidence: the catalog's checkpoints and the newest checkpoint file of every reachable site,
each signature checked; any unsigned, forged or conflicting one (two heads for one seq) is
tampering. The anchor is the newest of them (none: the start of the chain). From then on
every seal recomputes the records from the anchor to the head from their bodies (each
hash, each link); so the periodic checkpoint during PUTs reads only the records since the
previous one, never the whole chain.

A checkpoint is then published: every site is first read for a file of the same seq (a
different head, or a file that is not a valid checkpoint, is tampering: nothing is signed);
one holding the same head already (another process signed it) is reused rather than signed
again; the file is written with ``put_once`` (never replacing one), then the catalog row.

Any failure raises :class:`~domicile.errors.AuditAltered` naming the first bad record
(found by a full verification of the catalog and every site's checkpoints), after which the
sealer refuses every seal and every new record of this process (the error is latched):
nothing is signed, stored or written.

The first record a process appends is vetted the same way (:meth:`Sealer.vet`), so a
process never adds records to a chain it would refuse to seal.

A catalog with no records over sites holding checkpoints (a lost catalog, rebuilt from the
sites) continues the chain from the newest site checkpoint (:meth:`Sealer.base`): its first
record links to that signed head, so no checkpoint seq is ever signed twice, and
verification reports records 1..S as removed until the history is restored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping

from domicile.audit import (
    ZERO,
    AuditKey,
    ChainReport,
    Checkpoint,
    Head,
    Problem,
    ProblemKind,
    Record,
    sign_checkpoint,
    verify_checkpoint,
    wall_clock_us,
)
from domicile.audit.evidence import SiteFile, checkpoint_file, parse_site_file
from domicile.catalog import Catalog
from domicile.engine.auditsites import newest_file, read_file
from domicile.errors import AuditAltered, AuditFormatError, SiteError
from domicile.sites import Site

_PAGE = 5000


class Sealer:
    """Verifies before signing and publishes checkpoints write-once (see the module)."""

    def __init__(
        self,
        catalog: Catalog,
        key: AuditKey,
        sites: Mapping[str, Site],
        full_verify: Callable[[], ChainReport],
    ) -> None:
        self._catalog = catalog
        self._key = key
        self._sites = sites
        self._full_verify = full_verify
        self._anchor: Head | None = None
        self._lock = threading.RLock()  # one establishment, one seal at a time
        self.altered: AuditAltered | None = None

    def base(self) -> Head:
        """Where a catalog with no records starts its chain: the newest validly signed
        checkpoint on the sites (a lost catalog continues the signed history), else seq 0."""
        newest: Checkpoint | None = None
        for site in self._sites.values():
            found = newest_file(site)
            if found is None:
                continue
            parsed = parse_site_file(found, self._key.public)
            if isinstance(parsed, Checkpoint) and (newest is None or parsed.seq > newest.seq):
                newest = parsed
        return Head(newest.seq, newest.head_hash) if newest else Head(0, ZERO)

    def check(self) -> None:
        """Raise the latched :class:`AuditAltered` if this process found tampering."""
        if self.altered is not None:
            raise self.altered

    def vet(self) -> None:
        """Before this process's first record: verify the chain as a seal would (without
        signing), so that no process adds records to an altered chain; then cheap (the
        anchor, the newest signed checkpoint, is kept). Raises :class:`AuditAltered`
        (latched)."""
        self.check()
        if self._anchor is not None:
            return
        with self._lock:
            self._vet_locked()

    def _vet_locked(self) -> None:
        self.check()
        if self._anchor is not None:
            return
        try:
            anchor = self._establish()
            if self._catalog.audit_records(0, 1):  # empty: a lost catalog continues the sites
                # Verified up to the head, but the anchor stays the signed checkpoint, so
                # that the next seal signs the head even if no record follows.
                self._verify_from(anchor, None, strict=True)
        except AuditAltered as exc:
            self.altered = exc
            raise
        self._anchor = anchor

    def seal(self, target: Head | None, *, strict: bool) -> Checkpoint | None:
        """Verify the chain from the anchor to ``target`` (None: the catalog's head) and sign
        it; None when nothing newer than the anchor is there to sign.

        ``strict``: the target is the catalog's head, so a head behind the anchor means the
        catalog lost signed records (truncated); otherwise (a checkpoint due after an
        append, racing another thread's) an older target is simply already covered.
        """
        with self._lock:
            self.check()
            try:
                if self._anchor is None:
                    self._anchor = self._establish()
                head = self._verify_from(self._anchor, target, strict=strict)
                if head is None:
                    return None
                cp = self._publish(head)
            except AuditAltered as exc:
                self.altered = exc
                raise
            self._anchor = head
            return cp

    # --- trust --------------------------------------------------------------------------

    def _establish(self) -> Head:
        public = self._key.public
        valid: list[Checkpoint] = []
        for body in self._catalog.audit_checkpoints():
            try:
                cp = Checkpoint.from_dict(json.loads(body))
            except (AuditFormatError, ValueError, TypeError):
                raise self._fail(
                    Problem(0, ProblemKind.BAD_SIGNATURE, "a catalog checkpoint is malformed")
                ) from None
            if not verify_checkpoint(public, cp):
                raise self._fail(
                    Problem(
                        cp.seq,
                        ProblemKind.BAD_SIGNATURE,
                        f"the catalog's checkpoint at seq {cp.seq} is not validly signed",
                    )
                )
            valid.append(cp)
        for site in self._sites.values():
            found = newest_file(site)
            if found is None:
                continue
            parsed = parse_site_file(found, public)
            if isinstance(parsed, Problem):
                raise self._fail(parsed)
            valid.append(parsed)
        heads: dict[int, str] = {}
        for cp in valid:
            if heads.setdefault(cp.seq, cp.head_hash) != cp.head_hash:
                raise self._fail(
                    Problem(
                        cp.seq,
                        ProblemKind.FORKED,
                        f"two validly signed checkpoints for seq {cp.seq} differ",
                    )
                )
        newest = max(valid, key=lambda c: c.seq, default=None)
        return Head(newest.seq, newest.head_hash) if newest else Head(0, ZERO)

    def _verify_from(self, anchor: Head, target: Head | None, *, strict: bool) -> Head | None:
        """Recompute the records from the anchor's own record to the target from their
        bodies; return the verified head to sign, or None if nothing is newer."""
        if target is not None and target.seq <= anchor.seq and not strict:
            return None  # a checkpoint racing a newer one: already covered
        last = anchor
        anchor_row_due = anchor.seq >= 1
        for seq, stored, body in self._rows(max(anchor.seq - 1, 0)):
            record = _parse(seq, body)
            if record is None or record.hash != stored:
                raise self._fail(
                    Problem(seq, ProblemKind.CHANGED, f"record {seq} does not hash to its hash")
                )
            if anchor_row_due:
                anchor_row_due = False
                if seq == anchor.seq:
                    if record.hash != anchor.hash:
                        raise self._fail(
                            Problem(
                                seq,
                                ProblemKind.CHECKPOINT_MISMATCH,
                                f"record {seq} differs from the checkpoint signed at seq {seq}",
                            )
                        )
                    continue
                # The signed record is absent: only a lost catalog continued from the
                # sites (no record before it at all) may go on from its signed head.
                if seq != anchor.seq + 1 or self._has_records_before(anchor.seq):
                    raise self._fail(
                        Problem(
                            anchor.seq,
                            ProblemKind.REMOVED,
                            f"record {anchor.seq}, covered by a signed checkpoint, is missing",
                        )
                    )
            if seq != last.seq + 1 or record.prev != last.hash:
                raise self._fail(
                    Problem(
                        seq,
                        ProblemKind.CHANGED,
                        f"record {seq} does not link to the verified record {last.seq}",
                    )
                )
            last = Head(seq, record.hash)
            if target is not None and seq >= target.seq:
                break
        if anchor_row_due:
            raise self._fail(
                Problem(
                    anchor.seq,
                    ProblemKind.TRUNCATED,
                    f"the catalog's records end before seq {anchor.seq}, which is signed",
                )
            )
        if target is not None and last != target:
            raise self._fail(
                Problem(
                    min(last.seq + 1, target.seq),
                    ProblemKind.CHANGED,
                    f"record {target.seq} changed or vanished while it was being sealed",
                )
            )
        return None if last == anchor else last

    def _has_records_before(self, seq: int) -> bool:
        rows = self._catalog.audit_records(since=0, limit=1)
        return bool(rows) and rows[0][0] < seq

    def _rows(self, since: int) -> Iterator[tuple[int, str, str]]:
        while True:
            rows = self._catalog.audit_records(since=since, limit=_PAGE)
            yield from rows
            if len(rows) < _PAGE:
                return
            since = rows[-1][0]

    # --- publishing ---------------------------------------------------------------------

    def _publish(self, head: Head) -> Checkpoint:
        name = checkpoint_file(head.seq)
        reuse: Checkpoint | None = None
        for site_id, site in self._sites.items():
            data = read_file(site, name)
            if data is None:
                continue
            held = self._compare(SiteFile(site_id, head.seq, data), head)
            reuse = reuse or held
        cp = reuse or sign_checkpoint(self._key, head.seq, head.hash, wall_clock_us())
        body = cp.to_bytes()
        for site_id, site in self._sites.items():
            try:
                if site.put_once(name, body):
                    continue
            except SiteError:
                continue  # the next checkpoint goes there; verify reads every site
            data = read_file(site, name)
            if data is not None:
                self._compare(SiteFile(site_id, head.seq, data), head)
        self._catalog.add_audit_checkpoint(head.seq, json.dumps(cp.to_dict(), sort_keys=True))
        return cp

    def _compare(self, found: SiteFile, head: Head) -> Checkpoint:
        parsed = parse_site_file(found, self._key.public)
        if isinstance(parsed, Problem):
            raise self._fail(parsed)
        if parsed.head_hash != head.hash:
            raise self._fail(
                Problem(
                    head.seq,
                    ProblemKind.FORKED,
                    f"site {found.site} already holds a checkpoint for seq {head.seq} with "
                    f"head {parsed.head_hash[:16]}…, not {head.hash[:16]}…: the records "
                    "were rewritten after it was signed",
                )
            )
        return parsed

    def _fail(self, quick: Problem) -> AuditAltered:
        """The error naming the first problem of a full verification (or ``quick``)."""
        report = self._full_verify()
        problem = report.first_problem or quick
        return AuditAltered(
            f"the audit chain does not verify, so nothing was signed: seq {problem.seq}: "
            f"{problem.kind}: {problem.message}",
            hint="run 'domicile audit verify' to see every finding; restore the catalog's "
            "audit records from a trusted copy (the checkpoints on the sites say which "
            "history was signed); domicile signs nothing until the chain verifies",
            operation="audit-seal",
            seq=problem.seq,
            kind=str(problem.kind),
        )


def _parse(seq: int, body: str) -> Record | None:
    try:
        record = Record.from_body(json.loads(body))
    except (AuditFormatError, ValueError, TypeError):
        return None
    return record if record.seq == seq else None
