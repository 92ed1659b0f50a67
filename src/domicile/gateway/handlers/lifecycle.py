"""Bucket lifecycle rules: Put/Get/DeleteBucketLifecycleConfiguration.

The rules domicile enforces (``domicile sweep``, see :mod:`domicile.engine.lifecycle`):
NoncurrentVersionExpiration, ExpiredObjectDeleteMarker and AbortIncompleteMultipartUpload.
Any other kind is ``NotImplemented`` (:mod:`domicile.gateway.lockxml`), never stored and
ignored. A bucket without rules answers ``NoSuchLifecycleConfiguration``, as S3 does.
"""

from __future__ import annotations

from domicile.gateway import lockxml
from domicile.gateway.call import Call, Reply
from domicile.gateway.lockheaders import require_integrity
from domicile.gateway.s3errors import reject


def get_lifecycle(call: Call) -> Reply:
    call.bucket()
    rules = call.engine.lifecycle(call.bucket_name)
    if rules is None:
        raise reject(
            "NoSuchLifecycleConfiguration",
            "The lifecycle configuration does not exist",
            bucket=call.bucket_name,
        )
    return Reply.xml(lockxml.lifecycle(rules))


def put_lifecycle(call: Call) -> Reply:
    call.bucket()
    rules = lockxml.parse_lifecycle(call.read_xml())  # a rule kind refused before the rest
    require_integrity(call.req)
    call.engine.set_lifecycle(call.bucket_name, rules)
    return Reply(200)


def delete_lifecycle(call: Call) -> Reply:
    call.bucket()
    call.engine.set_lifecycle(call.bucket_name, None)
    return Reply(204)
