"""Server-side copy: the source decrypted as it streams, stored anew under the target's policy.

A copy is a PUT whose body is a GET: the plaintext of the source flows chunk by chunk into
:func:`~domicile.engine.writer.put_object` for the destination, so it is placed by the
*destination* bucket's policy (its sites, its recipients) and memory stays bounded. The
audit record is ``copy`` (not ``put``), naming the source, and is appended in the
transaction that commits the new version.

Checksums: the plaintext of a copy is the source's, so by default the source's named
checksums are carried over as they are (no recomputation). A caller that wants others (a
new algorithm, or full-object values in place of a multipart source's composite ones)
passes a :class:`~domicile.engine.records.Digester`, which sees every byte of the copy.
"""

from __future__ import annotations

from collections.abc import Iterator

from domicile.catalog import Expect
from domicile.engine.context import EngineContext
from domicile.engine.records import FULL_OBJECT, Digester, ObjectInfo, ObjectMeta, ObjectReader
from domicile.engine.writer import put_object


def copy_object(
    ctx: EngineContext,
    source: ObjectReader,
    dst_bucket: str,
    dst_key: str,
    meta: ObjectMeta | None,
    *,
    digester: Digester | None = None,
    expect: Expect | None = None,
) -> ObjectInfo:
    """Store ``source`` as ``dst_bucket``/``dst_key``; ``meta`` None keeps the source's;
    ``digester`` None carries the source's checksums, else its results are stored.
    ``expect``: a conditional write of the destination, as ``put_object``'s."""
    info = source.info
    if digester is None:
        chunks, checksums, kind = source.chunks, lambda: info.checksums, info.checksum_type
    else:
        chunks, checksums, kind = fed(source.chunks, digester), digester.results, FULL_OBJECT
    return put_object(
        ctx,
        dst_bucket,
        dst_key,
        chunks,
        info.meta if meta is None else meta,
        checksums=checksums,
        checksum_type=kind or FULL_OBJECT,
        action="copy",
        expect=expect,
        detail={
            "source_bucket": info.bucket,
            "source_key": info.key,
            "source_version": info.version_id,
        },
    )


def fed(chunks: Iterator[bytes], digester: Digester) -> Iterator[bytes]:
    """``chunks`` unchanged, each one fed to ``digester`` on its way."""
    for chunk in chunks:
        digester.update(chunk)
        yield chunk
