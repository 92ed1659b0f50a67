"""Server-side copy: the source decrypted as it streams, stored anew under the target's policy.

A copy is a PUT whose body is a GET: the plaintext of the source flows chunk by chunk into
:func:`~domicile.engine.writer.put_object` for the destination, so it is placed by the
*destination* bucket's policy (its sites, its recipients) and memory stays bounded. The
audit record is ``copy`` (not ``put``), naming the source, and is appended in the
transaction that commits the new version.
"""

from __future__ import annotations

from domicile.engine.context import EngineContext
from domicile.engine.records import ObjectInfo, ObjectMeta, ObjectReader
from domicile.engine.writer import put_object


def copy_object(
    ctx: EngineContext,
    source: ObjectReader,
    dst_bucket: str,
    dst_key: str,
    meta: ObjectMeta | None,
) -> ObjectInfo:
    """Store ``source`` as ``dst_bucket``/``dst_key``; ``meta`` None keeps the source's."""
    info = source.info
    return put_object(
        ctx,
        dst_bucket,
        dst_key,
        source.chunks,
        info.meta if meta is None else meta,
        action="copy",
        detail={
            "source_bucket": info.bucket,
            "source_key": info.key,
            "source_version": info.version_id,
        },
    )
