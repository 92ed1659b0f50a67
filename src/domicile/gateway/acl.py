"""ACLs as S3 has them with "ACLs disabled, bucket owner enforced" (S3's default since
2023): the owner, here the tenant, has FULL_CONTROL of every bucket and object, and
nobody else has anything.

- Reading an ACL answers that one grant (:func:`owner_policy`).
- Setting one is accepted only when it says the same thing: the canned ACLs ``private``
  and ``bucket-owner-full-control``, ``x-amz-grant-full-control`` naming only the owner, or
  an ``AccessControlPolicy`` body whose every grant is the owner's FULL_CONTROL
  (:func:`check_headers`, :func:`check_policy`).
- Anything that would widen access (``public-read``, a grant to another account, a group
  or an e-mail address, a READ or WRITE grant) is refused with the code S3 uses when ACLs
  are disabled: ``AccessControlListNotSupported`` (400); on CreateBucket,
  ``InvalidBucketAclWithObjectOwnership`` (400), as S3 answers a bucket ACL that the
  bucket-owner-enforced setting forbids. Never a 200 for a grant that is not applied.
"""

from __future__ import annotations

import re
from typing import Final

from domicile.errors import RequestRejected
from domicile.gateway import s3xml
from domicile.gateway._xmltext import element
from domicile.gateway.request import S3Request
from domicile.gateway.s3bodies import parse_xml
from domicile.gateway.s3errors import reject

#: Canned ACLs that grant nothing beyond the owner's full control.
OWNER_ONLY: Final = frozenset({"private", "bucket-owner-full-control"})
#: Every ``x-amz-grant-*`` header S3 defines.
GRANT_HEADERS: Final = (
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
)
_XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
#: What a grantee that is the owner's canonical user may hold.
_OWNER_FIELDS: Final = frozenset({"ID", "DisplayName"})
_GRANTEE: Final = re.compile(r'^\s*id\s*=\s*"?([^",]*)"?\s*$', re.IGNORECASE)
_HINT: Final = (
    "ACLs are disabled (bucket owner enforced): every bucket and object belongs to its "
    "tenant alone; send no ACL, or 'private' / 'bucket-owner-full-control'"
)


def owner_policy(owner: str) -> bytes:
    """The ``AccessControlPolicy`` of every bucket and object: ``owner``'s FULL_CONTROL."""
    ident = element("ID", owner) + element("DisplayName", owner)
    grant = (
        f'<Grant><Grantee xmlns:xsi="{_XSI}" xsi:type="CanonicalUser">{ident}</Grantee>'
        "<Permission>FULL_CONTROL</Permission></Grant>"
    )
    return s3xml.document(
        "AccessControlPolicy",
        [f"<Owner>{ident}</Owner>", f"<AccessControlList>{grant}</AccessControlList>"],
    )


def _refusal(what: str, *, create_bucket: bool) -> RequestRejected:
    if create_bucket:
        return reject(
            "InvalidBucketAclWithObjectOwnership",
            f"{what}: a bucket ACL can only grant its owner full control here",
            hint=_HINT,
        )
    return reject(
        "AccessControlListNotSupported", f"{what}: the bucket does not allow ACLs", hint=_HINT
    )


def check_headers(req: S3Request, owner: str, *, create_bucket: bool = False) -> bool:
    """Refuse an ``x-amz-acl`` or ``x-amz-grant-*`` header that grants more than the
    owner's full control; True when the request carries an (owner-only) ACL header."""
    canned = req.header("x-amz-acl")
    if canned is not None and canned.strip() not in OWNER_ONLY:
        raise _refusal(f"the canned ACL {canned.strip()[:64]!r}", create_bucket=create_bucket)
    grants = [(name, req.header(name)) for name in GRANT_HEADERS]
    for name, value in grants:
        if value is None:
            continue
        grantees = [_GRANTEE.match(part) for part in value.split(",")]
        if name != "x-amz-grant-full-control" or not all(
            m is not None and m.group(1) == owner for m in grantees
        ):
            raise _refusal(f"the grant {name}: {value[:100]!r}", create_bucket=create_bucket)
    return canned is not None or any(value is not None for _, value in grants)


def check_policy(body: bytes, owner: str) -> None:
    """Refuse an ``AccessControlPolicy`` body unless each of its grants (one at least) is
    ``owner``'s FULL_CONTROL (``MalformedACLError`` when it is not such a document)."""
    root = parse_xml(body, max_size=64 * 1024)
    if root.name != "AccessControlPolicy":
        raise reject("MalformedACLError", "the ACL body must be an AccessControlPolicy")
    acl = root.one("AccessControlList")
    grants = [] if acl is None else acl.all("Grant")
    if not grants:
        raise _refusal("an ACL without the owner's grant", create_bucket=False)
    for grant in grants:
        permission = grant.text_of("Permission") or "?"
        grantee = grant.one("Grantee")
        names = {} if grantee is None else {c.name: c.text for c in grantee.children}
        if permission != "FULL_CONTROL" or names.get("ID") != owner or names.keys() - _OWNER_FIELDS:
            who = names.get("ID") or names.get("URI") or names.get("EmailAddress") or "?"
            raise _refusal(f"the grant of {permission} to {who[:100]!r}", create_bucket=False)
