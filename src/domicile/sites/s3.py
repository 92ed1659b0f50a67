"""A site in any S3-compatible bucket (AWS, OVHcloud, Scaleway, Ceph, Swift, SeaweedFS, MinIO).

Blob ``b…`` of a site with prefix ``domicile/`` is the object ``domicile/b…`` of the bucket.
The client is botocore (through boto3), chosen by measurement (``docs/s3-sites.md``): it
pools connections (``max_pool``), enforces a connect timeout and a socket timeout (each
read or write of a socket), and verifies TLS against the system's CAs or a given CA file.
It makes one attempt per call by default (``attempts``): retries are decided in one place,
:class:`~domicile.sites.wrappers.RetryingSite`, within a deadline (botocore's own four
attempts, each waiting the whole read timeout, multiplied with the wrapper's four made a
hung server hold a read for about 16 minutes).

Contract (on top of :mod:`domicile.sites.base`):

- ``put`` is atomic: a blob smaller than ``part_size`` is one PutObject; a larger one is a
  multipart upload completed only after its last part, and aborted on any failure, the chunk
  iterator's own exceptions included. Memory stays below ``(upload_threads + 1) *
  part_size`` whatever the blob's size (the part size doubles every 1,000 parts to stay
  under S3's 10,000-part limit).
- ``get`` sends one ranged GET and streams the body in pieces of at most 1 MiB; a body
  shorter than its ``Content-Length`` raises SiteCorrupt.
- ``put_once`` (write-once, for small evidence blobs) first sends a HEAD and returns False if
  the blob exists (read-before-write: this alone holds on a server that ignores conditions),
  then a PutObject with ``If-None-Match: *``: a server that honours it refuses (412
  ``PreconditionFailed``, or 409 ``ConditionalRequestConflict``) a blob created since the
  HEAD, and the answer is False. A server that answers 501 ``NotImplemented`` to the header
  gets a plain PutObject after the HEAD, for the rest of the site's life (``conditional``
  tells which). What the test bed's servers do is pinned by ``tests/s3/test_put_once.py``.
- ``sweep_temp`` (:class:`~domicile.sites.base.SweepsTemp`) aborts the multipart uploads
  that ``put`` began under the site's prefix (a key that is the prefix and a blob id) and
  never completed because the writer died: begun more than the grace period ago and with
  no part uploaded since (ListMultipartUploads, ListParts, AbortMultipartUpload). S3 has
  no locks, so the age of the last part is what tells a dead writer from a slow one; a
  live ``put`` uploads a part at least every ``part_size`` bytes.
- Errors follow the table in :mod:`domicile.sites.s3_errors`; a missing bucket is a
  (non-retryable) SiteError naming the bucket, refused credentials are SiteAccessDenied
  naming the site. Credentials are never logged nor shown by ``repr``.
"""

from __future__ import annotations

import builtins
import contextlib
import re
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from domicile.errors import BlobNotFound, ConfigError, SiteError
from domicile.sites.base import (
    BlobInfo,
    Leftover,
    check_blob_id,
    check_prefix,
    check_range,
    chunk_views,
)
from domicile.sites.s3_errors import missing_bucket, translate
from domicile.sites.s3_lock import bucket_locking, lock_object

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

MiB = 1024 * 1024
#: S3's smallest part (all parts but the last) and largest part count.
MIN_PART = 5 * MiB
MAX_PARTS = 10_000
#: Largest piece ``get`` yields.
READ_PIECE = MiB
_KEY_PREFIX = re.compile(r"(?:[A-Za-z0-9._-]+/)*[A-Za-z0-9._-]*")
_BLOB_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")
Addressing = Literal["path", "virtual", "auto"]


class S3Site:
    """A :class:`~domicile.sites.base.Site` in an S3-compatible bucket, under ``prefix``.

    ``access_key``/``secret_key`` of None fall back to botocore's usual sources (the
    ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY`` environment variables, profiles, instance
    roles). ``verify`` is True (system CAs), a CA bundle path, or False (refused unless
    the endpoint is plain HTTP or you really mean it). ``timeout`` bounds each socket read
    or write, ``connect_timeout`` each connection attempt; ``attempts`` is botocore's total
    tries per request (1: no retry below :class:`~domicile.sites.wrappers.RetryingSite`).
    """

    def __init__(
        self,
        site_id: str,
        *,
        endpoint: str,
        bucket: str,
        prefix: str = "",
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
        addressing: Addressing = "path",
        verify: bool | str | Path = True,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        attempts: int = 1,
        part_size: int = 32 * MiB,
        upload_threads: int = 3,
        max_pool: int = 32,
    ) -> None:
        _check_settings(
            site_id=site_id,
            endpoint=endpoint,
            bucket=bucket,
            prefix=prefix,
            addressing=addressing,
            part_size=part_size,
            upload_threads=upload_threads,
        )
        if (access_key is None) != (secret_key is None):
            raise ConfigError(
                f"site {site_id}: give both an access key and a secret key, or neither",
                hint="neither means: take them from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
                site=site_id,
            )
        self._site_id = site_id
        self.endpoint = endpoint.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix if not prefix or prefix.endswith("/") else prefix + "/"
        self.part_size = part_size
        self.upload_threads = upload_threads
        #: Whether the server honours ``If-None-Match: *`` (None: not tried yet).
        self.conditional: bool | None = None
        config = Config(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=timeout,
            max_pool_connections=max_pool,
            retries={"mode": "standard", "total_max_attempts": attempts},
            s3={"addressing_style": addressing},
            tcp_keepalive=True,
            user_agent_extra="domicile",
            # No CRC32 pass over every body: a blob is authenticated by age and pinned by
            # its SHA-256 in the catalog, and the transfer is covered by the signed
            # payload hash (HTTP) or TLS. Also spares servers that reject the trailers.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=region
        )
        self._client: S3Client = session.client(
            "s3",
            endpoint_url=self.endpoint,
            verify=str(verify) if isinstance(verify, Path) else verify,
            config=config,
        )

    def __repr__(self) -> str:
        return f"S3Site({self._site_id!r}, endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    @property
    def site_id(self) -> str:
        return self._site_id

    # --- the Site protocol -------------------------------------------------------------------

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        """Upload the concatenation of ``chunks`` atomically; return its size."""
        key = self._key(blob_id)
        parts = _Splitter(chunk_views(chunks))
        first = parts.take(self.part_size)
        if len(first) < self.part_size:  # the whole blob fits in one PutObject
            with self._errors("put", blob_id):
                self._client.put_object(Bucket=self.bucket, Key=key, Body=first)
            return len(first)
        return self._multipart(blob_id, key, first, parts)

    def put_once(self, blob_id: str, data: bytes) -> bool:
        """HEAD, then a conditional PutObject (see the module docstring); True if written."""
        key = self._key(blob_id)
        try:
            self.head(blob_id)
            return False
        except BlobNotFound:
            pass
        body = bytes(data)
        if self.conditional is not False:
            try:
                with self._errors("put", blob_id):
                    self._client.put_object(Bucket=self.bucket, Key=key, Body=body, IfNoneMatch="*")
                return True
            except SiteError as err:
                code = err.context.get("s3_code")
                if code in {"PreconditionFailed", "ConditionalRequestConflict"}:
                    self.conditional = True
                    return False
                if code != "NotImplemented":
                    raise
                self.conditional = False
        with self._errors("put", blob_id):
            self._client.put_object(Bucket=self.bucket, Key=key, Body=body)
        return True

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the blob, clipped to its size (one ranged GET)."""
        key = self._key(blob_id)
        check_range(start, end, site=self._site_id)
        if end == start:
            self.head(blob_id)  # an empty range of a missing blob is still BlobNotFound
            return iter(())
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if start or end is not None:
            args["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            with self._errors("get", blob_id):
                body = self._client.get_object(**args)["Body"]
        except SiteError as err:
            if err.context.get("s3_code") == "InvalidRange":
                return iter(())  # the range starts at or past the end: clipped to nothing
            raise
        return self._stream(blob_id, body)

    def head(self, blob_id: str) -> BlobInfo:
        key = self._key(blob_id)
        try:
            with self._errors("head", blob_id):
                answer = self._client.head_object(Bucket=self.bucket, Key=key)
        except BlobNotFound:
            self._check_bucket("head")  # HEAD's 404 has no body: which is missing?
            raise
        return BlobInfo(blob_id, int(answer["ContentLength"]))

    def delete(self, blob_id: str) -> None:
        key = self._key(blob_id)
        with contextlib.suppress(BlobNotFound), self._errors("delete", blob_id):
            self._client.delete_object(Bucket=self.bucket, Key=key)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob under the site's prefix starting with ``prefix``, ascending by id.

        Objects under the prefix whose names are not blob ids (another tool's files, deeper
        "folders") are skipped. Pages of 1,000 are fetched as the iterator is consumed.
        """
        check_prefix(prefix)
        pages = self._pages(self.prefix + prefix)
        first = next(pages, None)  # the first request is made now, so errors surface here
        return self._entries(first, pages)

    def close(self) -> None:
        self._client.close()

    # --- S3-specific ------------------------------------------------------------------------

    def check(self) -> None:
        """Raise unless the bucket exists and our credentials may list it (a health probe)."""
        with self._errors("check"):
            self._client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)

    def check_locking(self) -> None:
        """Raise ConfigError unless the bucket has Object Lock enabled (``lock = "mirror"``)."""
        found = bucket_locking(self._client, self.bucket, self._errors)
        if not found:
            raise ConfigError(
                f"site {self._site_id}: bucket {self.bucket} at {self.endpoint} has no Object "
                'Lock, so lock = "mirror" cannot be honoured',
                hint="create the bucket with Object Lock enabled (aws s3api create-bucket "
                "--object-lock-enabled-for-bucket), or remove lock from the site",
                site=self._site_id,
                key=f"sites.{self._site_id}.lock",
            )

    def lock_blob(
        self, blob_id: str, mode: str | None, until: float | None, legal_hold: bool
    ) -> None:
        """Retention and legal hold of the blob's object (:class:`LocksBlobs`)."""
        with self._errors("lock", blob_id):
            lock_object(
                self._client,
                self.bucket,
                self._key(blob_id),
                mode=mode,
                until=until,
                legal_hold=legal_hold,
            )

    def sweep_temp(
        self, older_than: float = 3600.0, *, dry_run: bool = False
    ) -> builtins.list[Leftover]:
        """Abort (with ``dry_run``, list) the multipart uploads of blobs under the prefix
        begun more than ``older_than`` seconds ago and with no part uploaded since."""
        cutoff = time.time() - older_than
        found: builtins.list[Leftover] = []
        for key, upload_id, initiated in self._uploads():
            blob_id = key[len(self.prefix) :]
            if not _BLOB_ID.fullmatch(blob_id) or initiated >= cutoff:
                continue
            parts = self._upload_parts(key, upload_id)
            if parts is None:  # completed or aborted meanwhile
                continue
            size, last = parts
            modified = max(initiated, last)
            if modified >= cutoff:
                continue  # a writer is still uploading parts
            if not dry_run and not self._abort(blob_id, key, upload_id):
                continue
            found.append(Leftover(f"{blob_id}/{upload_id}", size, modified))
        return found

    # --- internals --------------------------------------------------------------------------

    def _key(self, blob_id: str) -> str:
        return self.prefix + check_blob_id(blob_id)

    def _multipart(self, blob_id: str, key: str, first: bytes, parts_in: _Splitter) -> int:
        with self._errors("put", blob_id):
            upload = self._client.create_multipart_upload(Bucket=self.bucket, Key=key)
        upload_id = upload["UploadId"]
        parts: list[CompletedPartTypeDef] = []
        in_flight: deque[Future[CompletedPartTypeDef]] = deque()
        size, buffer, part_size = 0, first, self.part_size
        pool = ThreadPoolExecutor(self.upload_threads, thread_name_prefix=f"s3-{self._site_id}")
        try:
            while buffer:
                if len(in_flight) >= self.upload_threads:
                    parts.append(in_flight.popleft().result())
                number = len(parts) + len(in_flight) + 1
                size += len(buffer)
                in_flight.append(pool.submit(self._part, blob_id, key, upload_id, number, buffer))
                if number % 1000 == 0:
                    part_size *= 2  # stays below 10,000 parts for blobs up to ~80 TiB
                buffer = parts_in.take(part_size)
            parts.extend(f.result() for f in in_flight)
            with self._errors("put", blob_id):
                self._client.complete_multipart_upload(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            with contextlib.suppress(BotoCoreError, ClientError):
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise
        pool.shutdown(wait=True)
        return size

    def _part(
        self, blob_id: str, key: str, upload_id: str, number: int, data: bytes
    ) -> CompletedPartTypeDef:
        with self._errors("put", blob_id):
            answer = self._client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
            )
        return {"ETag": answer["ETag"], "PartNumber": number}

    def _uploads(self) -> Iterator[tuple[str, str, float]]:
        """(key, upload id, initiated) of every multipart upload under the prefix."""
        args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        while True:
            with self._errors("sweep"):
                answer = self._client.list_multipart_uploads(**args)
            for upload in answer.get("Uploads", []):
                key, upload_id = upload.get("Key", ""), upload.get("UploadId", "")
                if key.startswith(self.prefix) and upload_id and "Initiated" in upload:
                    yield key, upload_id, upload["Initiated"].timestamp()
            key_marker = answer.get("NextKeyMarker")
            if not answer.get("IsTruncated") or not key_marker:
                return
            args["KeyMarker"] = key_marker
            args.pop("UploadIdMarker", None)
            if answer.get("NextUploadIdMarker"):
                args["UploadIdMarker"] = answer["NextUploadIdMarker"]

    def _upload_parts(self, key: str, upload_id: str) -> tuple[int, float] | None:
        """The bytes uploaded so far and the time of the last part (0.0 if none), or None
        if the upload is gone."""
        size, last, marker = 0, 0.0, 0
        while True:
            try:
                with self._errors("sweep"):
                    answer = self._client.list_parts(
                        Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumberMarker=marker
                    )
            except SiteError as err:
                if _upload_gone(err):
                    return None
                raise
            for part in answer.get("Parts", []):
                size += int(part.get("Size", 0))
                if "LastModified" in part:
                    last = max(last, part["LastModified"].timestamp())
            marker = int(answer.get("NextPartNumberMarker") or 0)
            if not answer.get("IsTruncated") or not marker:
                return size, last

    def _abort(self, blob_id: str, key: str, upload_id: str) -> bool:
        """Abort the upload; False if it was already gone."""
        try:
            with self._errors("sweep", blob_id):
                self._client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except SiteError as err:
            if _upload_gone(err):
                return False
            raise
        return True

    def _stream(self, blob_id: str, body: Any) -> Iterator[bytes]:
        try:
            with self._errors("get", blob_id):
                yield from body.iter_chunks(READ_PIECE)
        finally:
            body.close()

    def _pages(self, full_prefix: str) -> Iterator[Sequence[BlobInfo]]:
        token: str | None = None
        while True:
            args: dict[str, Any] = {"Bucket": self.bucket, "Prefix": full_prefix}
            if token:
                args["ContinuationToken"] = token
            with self._errors("list"):
                answer = self._client.list_objects_v2(**args)
            found: list[BlobInfo] = []
            for item in answer.get("Contents", []):
                blob_id = item["Key"][len(self.prefix) :]
                if _BLOB_ID.fullmatch(blob_id):
                    found.append(BlobInfo(blob_id, int(item["Size"])))
            yield found
            token = answer.get("NextContinuationToken")
            if not answer.get("IsTruncated") or not token:
                return

    @staticmethod
    def _entries(
        first: Sequence[BlobInfo] | None, pages: Iterator[Sequence[BlobInfo]]
    ) -> Iterator[BlobInfo]:
        if first is not None:
            yield from first
        for page in pages:
            yield from page

    def _check_bucket(self, operation: str) -> None:
        try:
            with self._errors(operation):
                self._client.head_bucket(Bucket=self.bucket)
        except BlobNotFound:
            raise missing_bucket(
                site=self._site_id, bucket=self.bucket, endpoint=self.endpoint, operation=operation
            ) from None

    @contextlib.contextmanager
    def _errors(self, operation: str, blob_id: str | None = None) -> Iterator[None]:
        """Translate botocore failures inside the block into domicile site errors."""
        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            err = translate(
                exc,
                site=self._site_id,
                operation=operation,
                bucket=self.bucket,
                endpoint=self.endpoint,
                blob_id=blob_id,
            )
            if isinstance(exc, ClientError):
                err.context["s3_code"] = exc.response.get("Error", {}).get("Code")
            raise err from exc


def _upload_gone(err: SiteError) -> bool:
    """Whether ``err`` says the multipart upload no longer exists (completed or aborted)."""
    return isinstance(err, BlobNotFound) or err.context.get("s3_code") == "NoSuchUpload"


class _Splitter:
    """Cuts a stream of byte views into parts of a requested size, carrying the excess over.

    At most one part is assembled at a time, so memory is one part plus the caller's chunk.
    """

    def __init__(self, pieces: Iterator[memoryview]) -> None:
        self._pieces = pieces
        self._rest = memoryview(b"")

    def take(self, size: int) -> bytes:
        """The next ``size`` bytes (fewer only at the end of the stream; empty after it)."""
        views: list[memoryview] = []
        wanted = size
        while wanted:
            if not self._rest:
                piece = next(self._pieces, None)
                if piece is None:
                    break
                self._rest = piece
            views.append(self._rest[:wanted])
            wanted -= len(views[-1])
            self._rest = self._rest[len(views[-1]) :]
        return views[0].tobytes() if len(views) == 1 else b"".join(views)


def _check_settings(
    *,
    site_id: str,
    endpoint: str,
    bucket: str,
    prefix: str,
    addressing: str,
    part_size: int,
    upload_threads: int,
) -> None:
    def bad(what: str, hint: str, key: str) -> ConfigError:
        return ConfigError(
            f"site {site_id}: {what}", hint=hint, site=site_id, key=f"sites.{site_id}.backend.{key}"
        )

    if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", endpoint or ""):
        raise bad(
            f"endpoint {endpoint!r} is not an http(s) URL",
            "e.g. https://s3.fr-par.scw.cloud",
            "endpoint",
        )
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket or ""):
        raise bad(
            f"bucket name {bucket!r} is not a valid S3 bucket name",
            "3-63 of a-z, 0-9, '.', '-'",
            "bucket",
        )
    if not _KEY_PREFIX.fullmatch(prefix) or {".", ".."} & set(prefix.split("/")):
        raise bad(
            f"prefix {prefix!r} is not a safe key prefix",
            "folders of A-Z, a-z, 0-9, '.', '_', '-', e.g. domicile/",
            "prefix",
        )
    if addressing not in {"path", "virtual", "auto"}:
        raise bad(
            f"addressing {addressing!r} is unknown",
            "use path (most self-hosted servers) or virtual (AWS)",
            "addressing",
        )
    if part_size < MIN_PART:
        raise bad(f"part_size {part_size} is below S3's 5 MiB minimum", "use 32 MiB", "part_size")
    if upload_threads < 1:
        raise bad("upload_threads must be >= 1", "use 3", "upload_threads")
