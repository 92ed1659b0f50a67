"""The XML of Object Lock and lifecycle: request bodies parsed, response documents encoded.

Parsed: ``ObjectLockConfiguration`` (PutObjectLockConfiguration), ``Retention``
(PutObjectRetention), ``LegalHold`` (PutObjectLegalHold) and ``LifecycleConfiguration``
(PutBucketLifecycleConfiguration). A malformed document is ``MalformedXML``; a value S3
would refuse (a mode other than GOVERNANCE/COMPLIANCE, days and years together, a date in
the past) is ``InvalidArgument`` or ``MalformedXML`` as S3 answers; a lifecycle rule kind
domicile does not enforce (expiration of current versions, transitions, tag or size
filters, ``NewerNoncurrentVersions``) is ``NotImplemented``, never stored and ignored.
"""

from __future__ import annotations

from domicile.catalog import BucketLock, VersionLock
from domicile.engine.lifecycle import Rule
from domicile.gateway._xmltext import element
from domicile.gateway.lockheaders import iso, parse_date, parse_mode
from domicile.gateway.s3bodies import Node, parse_xml
from domicile.gateway.s3errors import reject
from domicile.gateway.s3xml import document

_SMALL = 64 * 1024
#: The most rules one lifecycle configuration may hold (as on S3).
MAX_RULES = 1000


def _root(body: bytes, name: str) -> Node:
    node = parse_xml(body, max_size=_SMALL)
    if node.name != name:
        raise reject("MalformedXML", f"the root element must be <{name}>, not <{node.name}>")
    return node


def _int(node: Node, name: str) -> int | None:
    text = node.text_of(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise reject("MalformedXML", f"<{name}> must be a positive whole number, not {text!r}")
    return int(text)


# --- Object Lock ----------------------------------------------------------------------------


def parse_lock_configuration(body: bytes, bucket: str) -> BucketLock:
    """The default retention of an ``ObjectLockConfiguration`` (mode None: none)."""
    root = _root(body, "ObjectLockConfiguration")
    if root.text_of("ObjectLockEnabled") not in (None, "Enabled"):
        raise reject("MalformedXML", "<ObjectLockEnabled> must be Enabled")
    rule = root.one("Rule")
    if rule is None:
        return BucketLock(bucket)
    default = rule.one("DefaultRetention")
    if default is None:
        raise reject("MalformedXML", "<Rule> needs a <DefaultRetention>")
    mode = default.text_of("Mode")
    days, years = _int(default, "Days"), _int(default, "Years")
    if mode is None or (days is None) == (years is None):
        raise reject(
            "MalformedXML",
            "<DefaultRetention> needs a <Mode> and either <Days> or <Years>",
            hint="give Days or Years, not both",
        )
    if (days or years or 0) < 1:
        raise reject("InvalidArgument", "Default retention period must be a positive integer value")
    return BucketLock(bucket, parse_mode(mode), days, years)


def lock_configuration(lock: BucketLock) -> bytes:
    parts = [element("ObjectLockEnabled", "Enabled")]
    if lock.mode is not None:
        period = (
            element("Days", str(lock.days))
            if lock.days is not None
            else element("Years", str(lock.years))
        )
        parts.append(f"<Rule><DefaultRetention>{element('Mode', lock.mode)}{period}"
                     "</DefaultRetention></Rule>")  # fmt: skip
    return document("ObjectLockConfiguration", parts)


def parse_retention(body: bytes) -> tuple[str | None, float | None]:
    """``(mode, retain-until)`` of a ``Retention`` document; both None clear it."""
    root = _root(body, "Retention")
    mode, until = root.text_of("Mode"), root.text_of("RetainUntilDate")
    if mode is None and until is None:
        return None, None
    if mode is None or until is None:
        raise reject("MalformedXML", "<Retention> needs both <Mode> and <RetainUntilDate>")
    return parse_mode(mode), parse_date(until, future=True)


def retention(lock: VersionLock) -> bytes:
    assert lock.mode is not None and lock.retain_until is not None
    return document(
        "Retention",
        [element("Mode", lock.mode), element("RetainUntilDate", iso(lock.retain_until))],
    )


def parse_legal_hold(body: bytes) -> bool:
    status = _root(body, "LegalHold").text_of("Status")
    if status not in ("ON", "OFF"):
        raise reject("MalformedXML", "<LegalHold> needs <Status> ON or OFF")
    return status == "ON"


def legal_hold(on: bool) -> bytes:
    return document("LegalHold", [element("Status", "ON" if on else "OFF")])


# --- lifecycle --------------------------------------------------------------------------------

_REFUSED_ACTIONS = {
    "Transition": "transitions to other storage classes",
    "NoncurrentVersionTransition": "transitions to other storage classes",
}


def parse_lifecycle(body: bytes) -> list[Rule]:
    root = _root(body, "LifecycleConfiguration")
    rules = root.all("Rule")
    if not rules or len(rules) > MAX_RULES:
        raise reject("MalformedXML", f"a lifecycle configuration holds 1 to {MAX_RULES} rules")
    parsed = [_rule(r) for r in rules]
    ids = [r.id for r in parsed if r.id]
    if len(ids) != len(set(ids)):
        raise reject("InvalidArgument", "Rule ID must be unique")
    return parsed


def _rule(node: Node) -> Rule:
    for name, what in _REFUSED_ACTIONS.items():
        if node.one(name) is not None:
            raise _unsupported(what, name)
    status = node.text_of("Status")
    if status not in ("Enabled", "Disabled"):
        raise reject("MalformedXML", "<Status> must be Enabled or Disabled")
    expiration = node.one("Expiration")
    marker = False
    if expiration is not None:
        if expiration.one("Days") is not None or expiration.one("Date") is not None:
            raise _unsupported("expiration of current versions", "Expiration/Days|Date")
        marker = (expiration.text_of("ExpiredObjectDeleteMarker") or "").lower() == "true"
    noncurrent = node.one("NoncurrentVersionExpiration")
    noncurrent_days = None
    if noncurrent is not None:
        if noncurrent.one("NewerNoncurrentVersions") is not None:
            raise _unsupported("keeping a number of noncurrent versions", "NewerNoncurrentVersions")
        noncurrent_days = _int(noncurrent, "NoncurrentDays")
        if noncurrent_days is None:
            raise reject("MalformedXML", "<NoncurrentVersionExpiration> needs <NoncurrentDays>")
    abort = node.one("AbortIncompleteMultipartUpload")
    abort_days = None if abort is None else _int(abort, "DaysAfterInitiation")
    if abort is not None and abort_days is None:
        raise reject("MalformedXML", "<AbortIncompleteMultipartUpload> needs <DaysAfterInitiation>")
    rule = Rule(
        id=node.text_of("ID") or "",
        prefix=_prefix(node),
        enabled=status == "Enabled",
        noncurrent_days=noncurrent_days,
        expired_delete_marker=marker,
        abort_upload_days=abort_days,
    )
    if noncurrent_days is None and not marker and abort_days is None:
        raise reject("InvalidRequest", "At least one action needs to be specified in a rule")
    if 0 in (noncurrent_days, abort_days):
        raise reject("InvalidArgument", "a number of days must be a positive integer")
    return rule


def _prefix(node: Node) -> str:
    legacy = node.text_of("Prefix")
    filter_ = node.one("Filter")
    if filter_ is None:
        return legacy or ""
    for name in ("Tag", "And", "ObjectSizeGreaterThan", "ObjectSizeLessThan"):
        if filter_.one(name) is not None:
            raise _unsupported("lifecycle filters on tags or sizes", f"Filter/{name}")
    return filter_.text_of("Prefix") or ""


def _unsupported(what: str, name: str) -> Exception:
    return reject(
        "NotImplemented",
        f"lifecycle rules with {what} ({name}) are not supported",
        hint="domicile enforces NoncurrentVersionExpiration, ExpiredObjectDeleteMarker and "
        "AbortIncompleteMultipartUpload",
    )


def lifecycle(rules: list[Rule]) -> bytes:
    parts = []
    for rule in rules:
        inner = [element("ID", rule.id)] if rule.id else []
        inner.append(f"<Filter>{element('Prefix', rule.prefix)}</Filter>")
        inner.append(element("Status", "Enabled" if rule.enabled else "Disabled"))
        if rule.expired_delete_marker:
            inner.append("<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
                         "</Expiration>")  # fmt: skip
        if rule.noncurrent_days is not None:
            inner.append("<NoncurrentVersionExpiration>"
                         f"{element('NoncurrentDays', str(rule.noncurrent_days))}"
                         "</NoncurrentVersionExpiration>")  # fmt: skip
        if rule.abort_upload_days is not None:
            inner.append("<AbortIncompleteMultipartUpload>"
                         f"{element('DaysAfterInitiation', str(rule.abort_upload_days))}"
                         "</AbortIncompleteMultipartUpload>")  # fmt: skip
        parts.append(f"<Rule>{''.join(inner)}</Rule>")
    return document("LifecycleConfiguration", parts)
