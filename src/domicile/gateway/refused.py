"""Which refusals reach the audit log, and under whose name.

The gateway counts a refused request for the per-minute ``request_refused`` audit records
(:mod:`domicile.engine.refusals`) when it is about access: every 403 (a bad signature, an
unknown key, a skewed clock, another tenant's bucket, an expected owner that differs), the
400s of malformed credentials or session tokens, and attempts to widen access with an ACL.
Not-found answers, failed preconditions and malformed bodies are ordinary client traffic,
logged but not audited.

The name is the claimed access key's (``tenant:ACCESSKEY``) when the deployment knows the
key, even if the signature is wrong (that is the evidence wanted: someone tried that key);
``unknown`` for a key it does not know (never the attacker's string); ``anonymous`` for a
request without credentials.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Final

from domicile.gateway.request import S3Request

#: Codes below 403 that are about access, audited like the 403s.
AUDITED_CODES: Final = frozenset(
    {
        "AuthorizationHeaderMalformed",
        "AuthorizationQueryParametersError",
        "InvalidToken",
        "MissingSecurityHeader",
        "AccessControlListNotSupported",
        "InvalidBucketAclWithObjectOwnership",
    }
)
_CREDENTIAL: Final = re.compile(r"Credential=([^/,\s]+)/")


def audited(code: str, status: int) -> bool:
    """Whether a refusal with this S3 code and status is counted in the audit log."""
    return status == 403 or code in AUDITED_CODES


def claimed_key(req: S3Request) -> str | None:
    """The access key a request claims (Authorization header or presigned URL), if any."""
    header = req.header("authorization")
    if header is not None:
        found = _CREDENTIAL.search(header)
        return found.group(1) if found else ""
    credential = req.params.get("X-Amz-Credential")
    if credential is not None:
        return credential.split("/", 1)[0]
    return None


def who(req: S3Request, tenants: Mapping[str, str]) -> str:
    """``tenant:ACCESSKEY``, ``unknown`` or ``anonymous`` (``tenants``: key -> tenant)."""
    key = claimed_key(req)
    if key is None:
        return "anonymous"
    tenant = tenants.get(key)
    return f"{tenant}:{key}" if tenant is not None else "unknown"
