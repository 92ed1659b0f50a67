"""Audit history on the sites: encrypted segments of the chain, shipped with each checkpoint
and restored by ``rebuild-catalog``.

The audit records name buckets and keys, so they are customer data: each segment is an
age file encrypted to the keyring's recipients, like every blob. Its plaintext is an audit
export (:mod:`domicile.audit.export`: a header line, one line per record, and the signed
checkpoint that covers the segment's last record when there is one), so
``age -d -i keyring.txt alog-… | domicile audit verify --export - --public-key audit.pub``
works with stock tools. A segment is named ``alog-<first seq>-<last seq>`` (20 digits
each) and written write-once (``put_once``); at most :data:`SEGMENT_RECORDS` records each.

**Shipping** (:func:`ship`) runs after a checkpoint is signed: each writable site gets the
records from the last one it holds up to the checkpoint's seq. What is shipped was just
verified by the sealer, and is verified again here against the checkpoint's signed head
(every hash and link, walking the records once before anything is written), so a catalog
edited between the two is not copied to the sites. A site that is down gets the gap with
a later checkpoint.

**Restoring** (:func:`restore`) reads the segments of every readable site up to the
newest validly signed checkpoint (of the sites' ``ckpt-`` files and the checkpoints the
segments carry), in two passes over the segments in seq order, one segment in memory at a
time: the first checks every record's link up to that checkpoint's signed head (one
segment is used per range; one that does not link is tampering, reported with its site,
and nothing is restored), the second inserts the records and the checkpoints they carry
into the catalog. Anything past the checkpoint is unsigned and dropped; a gap is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domicile.audit import (
    ZERO,
    Checkpoint,
    Record,
    export_lines,
    parse_lines,
    verify_checkpoint,
)
from domicile.audit.evidence import parse_site_file
from domicile.catalog import Catalog
from domicile.crypto import Identity, Recipient, decrypt_bytes, encrypt_bytes
from domicile.engine.auditsites import newest_file
from domicile.errors import AuditAltered, AuditFormatError, CryptoError, SiteError
from domicile.sites import Site

SEGMENT_PREFIX = "alog-"
#: The most records one segment holds (about 4 MiB of JSON at typical record sizes).
SEGMENT_RECORDS = 10_000
_NAME = re.compile(r"alog-(\d{20})-(\d{20})")


def segment_name(first: int, last: int) -> str:
    return f"{SEGMENT_PREFIX}{first:020d}-{last:020d}"


def segment_range(blob_id: str) -> tuple[int, int] | None:
    """``(first, last)`` of a segment's blob id, None when it is not one."""
    match = _NAME.fullmatch(blob_id)
    if match is None:
        return None
    first, last = int(match.group(1)), int(match.group(2))
    return (first, last) if 1 <= first <= last else None


def _segments(site: Site) -> list[tuple[int, int, str]]:
    found = []
    for info in site.list(SEGMENT_PREFIX):
        span = segment_range(info.blob_id)
        if span is not None:
            found.append((*span, info.blob_id))
    return sorted(found)


@dataclass
class ShipReport:
    segments: int = 0
    records: int = 0
    skipped_sites: list[str] = field(default_factory=list)


def _pages(catalog: Catalog, after: int, upto: int) -> Iterator[list[Record]]:
    """The records ``after + 1 .. upto`` from the catalog, in pages, checked contiguous."""
    expect = after + 1
    while expect <= upto:
        rows = catalog.audit_records(
            since=expect - 1, limit=min(SEGMENT_RECORDS, upto - expect + 1)
        )
        if not rows or rows[0][0] != expect:
            raise _altered(f"record {expect} is missing from the catalog", expect)
        page = []
        for seq, _, body in rows:
            if seq != expect:
                raise _altered(f"record {expect} is missing from the catalog", expect)
            page.append(Record.from_body(json.loads(body)))
            expect += 1
        yield page


def _altered(message: str, seq: int) -> AuditAltered:
    return AuditAltered(
        f"audit history not shipped: {message}",
        hint="run `domicile audit verify` to see what changed",
        operation="audit-ship",
        seq=seq,
    )


def _check_links(records: Iterable[Record], prev: str | None, head: Checkpoint) -> None:
    """Every record links to the one before (the first to ``prev`` when known) and the last
    one is the checkpoint's signed head."""
    last: Record | None = None
    for record in records:
        if prev is not None and record.prev != prev:
            raise _altered(f"record {record.seq} does not link to the record before it", record.seq)
        prev, last = record.hash, record
    if last is None or last.seq != head.seq or last.hash != head.head_hash:
        raise _altered(f"the records do not end at the signed head {head.seq}", head.seq)


def ship(
    catalog: Catalog,
    sites: Mapping[str, Site],
    recipients: Sequence[Recipient],
    checkpoint: Checkpoint,
    shipped: dict[str, int] | None = None,
    *,
    verified: Sequence[Record] = (),
) -> ShipReport:
    """Ship the records up to ``checkpoint`` to every site that lacks some (see module).

    ``shipped``: the caller's memory of the last seq each site holds (filled and kept up to
    date here). Listing a local site's segments reads every blob name, so a process lists
    each site once and then remembers what it shipped; another process's segments only
    overlap ours, which restoring handles. Sites that lack the same records get the same
    segments, read, checked and encrypted once. ``verified``: records the caller verified
    up to the checkpoint's signed head (the sealer's), used instead of reading and checking
    the catalog again when they are exactly the ones to ship."""
    report = ShipReport()
    known = {} if shipped is None else shipped
    lacking: dict[int, list[tuple[str, Site]]] = {}
    for site_id, site in sorted(sites.items()):
        if site_id not in known:
            try:
                spans = [s for s in _segments(site) if s[1] <= checkpoint.seq]
            except SiteError:
                report.skipped_sites.append(site_id)
                continue
            known[site_id] = max((last for _, last, _ in spans), default=0)
        if known[site_id] < checkpoint.seq:
            lacking.setdefault(known[site_id], []).append((site_id, site))
    for after, members in sorted(lacking.items()):
        if verified and verified[0].seq == after + 1 and verified[-1].seq == checkpoint.seq:
            pages: Iterable[list[Record]] = [
                list(verified[i : i + SEGMENT_RECORDS])
                for i in range(0, len(verified), SEGMENT_RECORDS)
            ]
        elif checkpoint.seq - after <= SEGMENT_RECORDS:  # one page, read once
            pages = list(_pages(catalog, after, checkpoint.seq))
            _check_links((r for page in pages for r in page), None, checkpoint)
        else:  # a long gap: check every record before writing anything, then read again
            _check_links(
                (r for page in _pages(catalog, after, checkpoint.seq) for r in page),
                None,
                checkpoint,
            )
            pages = _pages(catalog, after, checkpoint.seq)
        _write(pages, members, recipients, checkpoint, known=known, report=report)
    return report


def _write(
    pages: Iterable[list[Record]],
    members: list[tuple[str, Site]],
    recipients: Sequence[Recipient],
    checkpoint: Checkpoint,
    *,
    known: dict[str, int],
    report: ShipReport,
) -> None:
    alive = list(members)
    for page in pages:
        cps = [checkpoint] if page[-1].seq == checkpoint.seq else []
        text = "\n".join(export_lines(page, cps)) + "\n"
        blob = encrypt_bytes(text.encode("utf-8"), recipients)
        name = segment_name(page[0].seq, page[-1].seq)
        for site_id, site in list(alive):
            try:
                if site.put_once(name, blob):
                    report.segments += 1
                    report.records += len(page)
                known[site_id] = page[-1].seq
            except SiteError:
                report.skipped_sites.append(site_id)
                known.pop(site_id, None)  # list it again next time
                alive.remove((site_id, site))


@dataclass
class RestoreReport:
    records: int = 0
    checkpoints: int = 0
    upto: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Segment:
    first: int
    last: int
    site_id: str
    blob_id: str


def _read(
    sites: Mapping[str, Site], seg: _Segment, identities: Sequence[Identity]
) -> tuple[list[Record], list[Checkpoint]]:
    data = b"".join(sites[seg.site_id].get(seg.blob_id))
    text = decrypt_bytes(data, identities).decode("utf-8")
    records, cps = parse_lines(text.split("\n"))
    if [r.seq for r in records] != list(range(seg.first, seg.last + 1)):
        raise AuditFormatError(
            f"segment {seg.blob_id} does not hold records {seg.first}..{seg.last}"
        )
    return records, cps


def _inventory(sites: Mapping[str, Site], report: RestoreReport) -> list[_Segment]:
    segments: list[_Segment] = []
    for site_id, site in sorted(sites.items()):
        try:
            segments += [_Segment(f, last, site_id, b) for f, last, b in _segments(site)]
        except SiteError as exc:
            report.problems.append(f"site {site_id} could not be listed: {exc}")
    return segments


def _newest_signed(
    sites: Mapping[str, Site],
    segments: Sequence[_Segment],
    identities: Sequence[Identity],
    public_key: Ed25519PublicKey,
) -> tuple[Checkpoint | None, list[Checkpoint]]:
    """The newest validly signed checkpoint: of each site's newest ``ckpt-`` file, and of
    the checkpoint each site's last segment carries; and every valid one seen."""
    valid: list[Checkpoint] = []
    for site in sites.values():
        found = newest_file(site)
        parsed = parse_site_file(found, public_key) if found is not None else None
        if isinstance(parsed, Checkpoint):
            valid.append(parsed)
    last_of: dict[str, _Segment] = {}
    for seg in segments:
        if seg.site_id not in last_of or seg.last > last_of[seg.site_id].last:
            last_of[seg.site_id] = seg
    for seg in last_of.values():
        try:
            carried = _read(sites, seg, identities)[1]
        except (SiteError, CryptoError, AuditFormatError, UnicodeDecodeError):
            continue
        valid += [cp for cp in carried if verify_checkpoint(public_key, cp)]
    return max(valid, key=lambda cp: cp.seq, default=None), valid


def _walk(
    sites: Mapping[str, Site],
    segments: Sequence[_Segment],
    identities: Sequence[Identity],
    upto: int,
    report: RestoreReport,
) -> Iterator[tuple[list[Record], list[Checkpoint]]]:
    """The records 1..upto from the segments, in seq order, one segment at a time; every
    segment that covers a seq must agree with the one used for it."""
    next_seq = 1
    for seg in sorted(segments, key=lambda s: (s.first, -s.last)):
        if seg.last < next_seq or next_seq > upto:
            continue
        if seg.first > next_seq:
            break
        try:
            records, cps = _read(sites, seg, identities)
        except (SiteError, CryptoError, AuditFormatError, UnicodeDecodeError) as exc:
            report.problems.append(f"segment {seg.blob_id} on {seg.site_id} is unreadable: {exc}")
            continue
        fresh = [r for r in records if next_seq <= r.seq <= upto]
        yield fresh, cps
        if fresh:
            next_seq = fresh[-1].seq + 1


def restore(
    catalog: Catalog,
    sites: Mapping[str, Site],
    identities: Sequence[Identity],
    public_key: Ed25519PublicKey,
) -> RestoreReport:
    """Restore the audit history from the sites' segments into ``catalog`` (see module).
    AuditAltered when the segments do not verify against the newest signed checkpoint."""
    report = RestoreReport()
    segments = _inventory(sites, report)
    if not segments:
        return report
    newest, signed = _newest_signed(sites, segments, identities, public_key)
    if newest is None:
        report.problems.append("no signed checkpoint covers the segments: nothing restored")
        return report
    # Pass 1: verify the whole history up to the signed head before inserting anything.
    prev, seen = ZERO, 0
    for records, _ in _walk(sites, segments, identities, newest.seq, report):
        for record in records:
            if record.prev != prev:
                raise AuditAltered(
                    f"the audit history on the sites breaks at record {record.seq}",
                    hint="a segment was altered; run `domicile audit verify` after the rebuild",
                    operation="audit-restore",
                    seq=record.seq,
                )
            prev, seen = record.hash, record.seq
    if seen < newest.seq:
        report.problems.append(
            f"records {seen + 1}..{newest.seq} are on no readable site: restored up to {seen}"
        )
    elif prev != newest.head_hash:
        raise AuditAltered(
            f"the audit history on the sites does not end at signed checkpoint {newest.seq}",
            operation="audit-restore",
            seq=newest.seq,
        )
    # Pass 2: insert, with every valid checkpoint the segments and sites carry. The links
    # are checked again: a segment read now may not be the one pass 1 read (a site that
    # failed this time, a file swapped in between).
    prev = ZERO
    for records, carried in _walk(sites, segments, identities, seen, report):
        for record in records:
            if record.prev != prev:
                raise AuditAltered(
                    f"the audit history on the sites changed while it was restored, at "
                    f"record {record.seq}",
                    hint="run `domicile audit verify`; restore again into a new catalog",
                    operation="audit-restore",
                    seq=record.seq,
                )
            prev = record.hash
        rows = [(r.seq, r.hash, r.canonical.decode("utf-8")) for r in records]
        report.records += catalog.restore_audit(rows)
        signed += [cp for cp in carried if verify_checkpoint(public_key, cp)]
    for cp in {c.seq: c for c in signed if c.seq <= seen}.values():
        catalog.add_audit_checkpoint(cp.seq, json.dumps(cp.to_dict(), sort_keys=True))
        report.checkpoints += 1
    report.upto = seen
    return report


def export_from_folder(folder: Path, identities: Sequence[Identity]) -> Iterator[str]:
    """An audit export (its lines, see :mod:`domicile.audit.export`) read straight from a
    copy of one site's folder: a local site's (``<fan>/<blob id>``) or an S3 site's prefix
    synced to disk (flat). The history segments are decrypted with ``identities``, in seq
    order, one at a time (overlapping segments of several writers give each record once);
    the checkpoints they carry and the folder's ``ckpt-`` files follow the records. Verify
    the result with ``domicile audit verify --export`` and the audit public key: nothing
    here checks signatures or links. AuditFormatError when a segment cannot be read."""
    found = sorted(
        (span, path)
        for path in folder.rglob("alog-*")
        if path.is_file() and (span := segment_range(path.name)) is not None
    )
    if not found:
        raise AuditFormatError(
            f"no audit history segment (alog-...) under {folder}",
            hint="copy the whole site folder, or the site's bucket prefix",
        )
    yield from _export_header()
    checkpoints: dict[int, Checkpoint] = {}
    next_seq = 1
    for (_, last), path in found:
        if last < next_seq:
            continue
        try:
            text = decrypt_bytes(path.read_bytes(), identities).decode("utf-8")
            records, carried = parse_lines(text.split("\n"))
        except (CryptoError, UnicodeDecodeError, OSError) as exc:
            raise AuditFormatError(f"history segment {path} is unreadable: {exc}") from exc
        for record in records:
            if record.seq >= next_seq:
                yield from _export_body([record], [])
                next_seq = record.seq + 1
        checkpoints.update((cp.seq, cp) for cp in carried)
    for path in sorted(folder.rglob("ckpt-*")):
        try:
            cp = Checkpoint.from_dict(json.loads(path.read_bytes()))
        except (AuditFormatError, ValueError, TypeError, OSError):
            continue  # not a checkpoint: `audit verify` of the site reports planted files
        checkpoints.setdefault(cp.seq, cp)
    yield from _export_body([], [checkpoints[s] for s in sorted(checkpoints)])


def _export_header() -> Iterator[str]:
    yield next(iter(export_lines([], [])))


def _export_body(records: Sequence[Record], checkpoints: Sequence[Checkpoint]) -> Iterator[str]:
    lines = export_lines(records, checkpoints)
    next(lines)  # the header, written once
    yield from lines
