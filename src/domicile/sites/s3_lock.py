"""S3 Object Lock on a site's own bucket (``[sites.<id>] lock = "mirror"``).

domicile's lock lives in its catalog and manifests; a mirror site also locks each blob of a
locked version at the provider, so that whoever holds the site's credentials (a stolen
gateway host, a rogue admin) cannot delete the bytes there either. In a bucket with Object
Lock (hence versioning), a DELETE without a version id only adds a delete marker: the
locked object version stays until its retention ends, as S3 guarantees.

A retention is only ever extended here: the one the object holds is read first, and a
shorter or equal one is not sent (the provider would refuse a COMPLIANCE one anyway).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

Errors = Callable[[str], AbstractContextManager[None]]


def bucket_locking(client: Any, bucket: str, errors: Errors) -> bool:
    """Whether ``bucket`` has Object Lock enabled."""
    try:
        answer = client.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ObjectLockConfigurationNotFoundError", "NoSuchObjectLockConfiguration"):
            return False
        with errors("check_locking"):
            raise
    config = answer.get("ObjectLockConfiguration", {})
    return bool(config.get("ObjectLockEnabled") == "Enabled")


def lock_object(
    client: Any, bucket: str, key: str, *, mode: str | None, until: float | None, legal_hold: bool
) -> None:
    """Extend the object's retention to ``(mode, until)`` and set its legal hold."""
    if mode is not None and until is not None:
        held = _retention(client, bucket, key)
        if held is None or held[1] < until or (held[0] != mode and mode == "COMPLIANCE"):
            stamp = datetime.fromtimestamp(until, UTC)
            client.put_object_retention(
                Bucket=bucket, Key=key, Retention={"Mode": mode, "RetainUntilDate": stamp}
            )
    client.put_object_legal_hold(
        Bucket=bucket, Key=key, LegalHold={"Status": "ON" if legal_hold else "OFF"}
    )


def _retention(client: Any, bucket: str, key: str) -> tuple[str, float] | None:
    try:
        answer = client.get_object_retention(Bucket=bucket, Key=key)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchObjectLockConfiguration", "ObjectLockConfigurationNotFoundError"):
            return None
        raise
    retention = answer.get("Retention", {})
    when = retention.get("RetainUntilDate")
    if not isinstance(when, datetime) or "Mode" not in retention:
        return None
    return str(retention["Mode"]), when.timestamp()
