"""PUT: place, encrypt once, fan the ciphertext out, write manifests, commit.

The flow (DESIGN.md, "Flows"): the placement decision chooses the sites (or refuses, and
nothing is written anywhere); the body is read once, in pieces of at most 1 MiB, cut into
segments of ``segment_size`` plaintext bytes; each segment is one age blob, encrypted once
and streamed to every chosen site concurrently (:class:`~domicile.engine.fanout.FanOut`);
then the manifest goes to every site, and only then is the version committed in one catalog
transaction. Any failure before the commit removes what was written and raises; a crash
leaves only unreferenced blobs, which the orphan sweep removes.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from domicile.audit import Record
from domicile.catalog import Bucket
from domicile.catalog.base import AuditBuilder
from domicile.crypto import Encryptor, X25519Recipient, encrypt_bytes
from domicile.engine.bghash import BackgroundHash
from domicile.engine.context import EngineContext
from domicile.engine.fanout import FanOut
from domicile.engine.health import probe_sites
from domicile.engine.manifest import (
    BLOB_PREFIX,
    Manifest,
    SegmentEntry,
    catalog_records,
    manifest_blob_id,
)
from domicile.engine.names import check_key
from domicile.engine.records import ObjectInfo, ObjectMeta
from domicile.errors import SiteError
from domicile.policy import decide
from domicile.sites import Site, new_blob_id

PIECE = 1024 * 1024
#: Bodies up to this size are encrypted in memory and written with their manifest at once.
SMALL_OBJECT = 1024 * 1024
#: Segments whose upload may still be finishing while the next one is written.
SEGMENTS_IN_FLIGHT = 2

Body = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]


def iter_body(body: Body) -> Iterator[memoryview]:
    """The body as pieces of at most 1 MiB, whatever form it was given in."""
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body).cast("B")
        for offset in range(0, len(view), PIECE):
            yield view[offset : offset + PIECE]
        return
    read = getattr(body, "read", None)
    if read is not None:
        while piece := read(PIECE):
            yield memoryview(piece)
        return
    for chunk in body:
        view = memoryview(chunk).cast("B")
        for offset in range(0, len(view), PIECE):
            yield view[offset : offset + PIECE]


class _SegmentWriter:
    """One segment: an age blob streamed to every chosen site while it is encrypted."""

    def __init__(
        self, ctx: EngineContext, sites: Sequence[Site], recipients: list[X25519Recipient]
    ):
        self.blob_id = new_blob_id(BLOB_PREFIX)
        self._encryptor = Encryptor(recipients)
        self._fan = FanOut(sites, self.blob_id)
        self._sha = hashlib.sha256()
        self.header_length = len(self._encryptor.header)
        self.plaintext_size = 0
        self.ciphertext_length = 0
        self._emit(self._encryptor.header)

    def write(self, piece: memoryview) -> None:
        self.plaintext_size += len(piece)
        self._emit(self._encryptor.update(piece))

    def close(self) -> SegmentEntry:
        entry = self.seal()
        self.wait()
        return entry

    def seal(self) -> SegmentEntry:
        """Encrypt the last chunk and end the blob; the sites finish it in the background."""
        self._emit(self._encryptor.finalize())
        self._fan.end()
        return SegmentEntry(
            blob_id=self.blob_id,
            plaintext_size=self.plaintext_size,
            header_length=self.header_length,
            ciphertext_length=self.ciphertext_length,
            sha256=self._sha.hexdigest(),
        )

    def wait(self) -> None:
        """Wait until every site holds the sealed blob durably (or raise after rollback)."""
        self._fan.wait()

    def abort(self) -> None:
        self._fan.abort()

    def _emit(self, data: bytes) -> None:
        if data:
            self._sha.update(data)
            self.ciphertext_length += len(data)
            self._fan.send(data)


def put_object(
    ctx: EngineContext, bucket_name: str, key: str, body: Body, meta: ObjectMeta
) -> ObjectInfo:
    """Store ``body`` under ``bucket_name``/``key``; see the module docstring for the flow."""
    check_key(key, bucket=bucket_name)
    bucket = ctx.catalog.get_bucket(bucket_name)
    policy = ctx.policy(bucket.policy)
    version_id = secrets.token_hex(16)
    probe_sites(ctx.health, ctx.sites, ctx.executor)
    decision = decide(policy, ctx.world, ctx.health.snapshot(ctx.world.sites), spread=version_id)
    decision.raise_if_refused()
    site_ids = list(decision.chosen)
    sites = [ctx.site(s) for s in site_ids]
    recipients = ctx.recipients_for(policy)

    md5: Any = hashlib.md5(usedforsecurity=False)
    entries: list[SegmentEntry] = []
    pieces = iter_body(body)
    head, small = _take(pieces, SMALL_OBJECT)
    try:
        if small:
            data = b"".join(head)
            md5.update(data)
            entry, ciphertext = _encrypt_small(data, recipients)
            entries.append(entry)
            manifest = _manifest(bucket, key, version_id, meta, md5=md5, entries=entries)
            _put_blobs(
                ctx, sites, [(entry.blob_id, ciphertext), *_manifest_blob(manifest, recipients)]
            )
        else:
            md5 = BackgroundHash("md5")  # the ETag's MD5 runs beside the encryption
            _stream_segments(
                ctx, sites, recipients, itertools.chain(head, pieces), md5=md5, entries=entries
            )
            manifest = _manifest(bucket, key, version_id, meta, md5=md5, entries=entries)
            _put_blobs(ctx, sites, _manifest_blob(manifest, recipients))
        made = _commit(ctx, manifest, site_ids, policy.name)
    except BaseException as exc:
        if isinstance(md5, BackgroundHash):
            md5.close()
        _remove(ctx, sites, [e.blob_id for e in entries] + [manifest_blob_id(version_id)])
        for site_id in site_ids:
            if isinstance(exc, SiteError) and exc.context.get("site") == site_id:
                ctx.health.record_failure(site_id, exc)
        raise
    for site_id in site_ids:
        ctx.health.record_success(site_id)
    if ctx.audit is not None and made:
        ctx.audit.appended(made)
    return ObjectInfo(
        bucket=bucket_name,
        key=key,
        version_id=version_id,
        size=manifest.size,
        etag=manifest.etag,
        created_at=manifest.created_at,
        meta=meta,
    )


def _take(pieces: Iterator[memoryview], limit: int) -> tuple[list[memoryview], bool]:
    """Up to ``limit`` bytes of the body; True if that was all of it (a small object)."""
    head: list[memoryview] = []
    total = 0
    for piece in pieces:
        head.append(piece)
        total += len(piece)
        if total > limit:
            return head, False
    return head, True


def _encrypt_small(data: bytes, recipients: list[X25519Recipient]) -> tuple[SegmentEntry, bytes]:
    """A small object in one blob, encrypted in memory so that all writes go out at once."""
    encryptor = Encryptor(recipients)
    ciphertext = encryptor.header + encryptor.update(data) + encryptor.finalize()
    entry = SegmentEntry(
        blob_id=new_blob_id(BLOB_PREFIX),
        plaintext_size=len(data),
        header_length=encryptor.header_length,
        ciphertext_length=len(ciphertext),
        sha256=hashlib.sha256(ciphertext).hexdigest(),
    )
    return entry, ciphertext


def _stream_segments(
    ctx: EngineContext,
    sites: Sequence[Site],
    recipients: list[X25519Recipient],
    pieces: Iterable[memoryview],
    *,
    md5: Any,
    entries: list[SegmentEntry],
) -> None:
    """Cut the body into segments, each streamed to every site; append each to ``entries``.

    A sealed segment finishes on the sites while the next one is encrypted, so a remote
    site's upload of one segment overlaps the next; at most ``SEGMENTS_IN_FLIGHT`` are."""
    current: _SegmentWriter | None = None
    sealed: list[_SegmentWriter] = []
    try:
        for piece in pieces:
            md5.update(piece)
            rest = piece
            while rest:
                if current is None:
                    current = _SegmentWriter(ctx, sites, recipients)
                room = ctx.segment_size - current.plaintext_size
                current.write(rest[:room])
                rest = rest[room:]
                if current.plaintext_size == ctx.segment_size:
                    entries.append(current.seal())
                    sealed.append(current)
                    current = None
                    while len(sealed) >= SEGMENTS_IN_FLIGHT:
                        sealed.pop(0).wait()
        if current is not None or not entries:
            current = current or _SegmentWriter(ctx, sites, recipients)
            entries.append(current.seal())
            sealed.append(current)
            current = None
        while sealed:
            sealed.pop(0).wait()
    except BaseException:
        for writer in [*sealed, *([current] if current is not None else [])]:
            writer.abort()
        raise


def _manifest(
    bucket: Bucket,
    key: str,
    version_id: str,
    meta: ObjectMeta,
    *,
    md5: Any,
    entries: Sequence[SegmentEntry],
) -> Manifest:
    return Manifest(
        bucket=bucket.name,
        policy=bucket.policy,
        tenant=bucket.tenant,
        key=key,
        version_id=version_id,
        created_at=time.time(),
        size=sum(e.plaintext_size for e in entries),
        etag=md5.hexdigest(),
        meta=meta,
        segments=tuple(entries),
    )


def _manifest_blob(
    manifest: Manifest, recipients: list[X25519Recipient]
) -> list[tuple[str, bytes]]:
    return [(manifest_blob_id(manifest.version_id), encrypt_bytes(manifest.to_json(), recipients))]


def _put_blobs(
    ctx: EngineContext, sites: Sequence[Site], blobs: Sequence[tuple[str, bytes]]
) -> None:
    """Write small in-memory blobs to every site at once; raise the first failure."""
    futures = [
        ctx.executor.submit(site.put, blob_id, [data]) for site in sites for blob_id, data in blobs
    ]
    errors = [exc for fut in futures if (exc := fut.exception()) is not None]
    if errors:
        raise errors[0]


def _commit(
    ctx: EngineContext, manifest: Manifest, site_ids: Sequence[str], policy: str
) -> list[Record]:
    """Commit the version and its audit record in one catalog transaction."""
    build: AuditBuilder | None = None
    made: list[Record] = []
    if ctx.audit is not None:
        build, made = ctx.audit.builder(
            "put",
            bucket=manifest.bucket,
            key=manifest.key,
            version=manifest.version_id,
            sites=site_ids,
            policy=policy,
            detail={"size": manifest.size, "etag": manifest.etag},
        )
    records = catalog_records(manifest, site_ids, manifest.created_at)
    ctx.catalog.commit_version(*records, audit=build)
    return made


def _remove(ctx: EngineContext, sites: Sequence[Site], blob_ids: Sequence[str]) -> None:
    """Best-effort removal of a failed PUT's blobs; what stays is swept as an orphan later."""
    for site in sites:
        for blob_id in blob_ids:
            try:
                site.delete(blob_id)
            except SiteError:
                continue
