"""docs/gateway.md's "What domicile's S3 API supports" table, walked against a live gateway:
every refused row must answer exactly its documented status and S3 code (and change
nothing), every supported GET row must answer 200, and the table must cover every
subresource the gateway refuses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from domicile.gateway.request import UNSUPPORTED
from tests.gateway.rawhttp import signed_request

DOC = Path(__file__).resolve().parents[2] / "docs" / "gateway.md"
SECTION = "## What domicile's S3 API supports"
#: Bodies of the rows whose headers column says "body".
BODIES = {
    "PutBucketVersioning": [
        b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>",
        b"<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>",
    ],
    "PutBucketVersioning with MFA delete": [
        b"<VersioningConfiguration><Status>Enabled</Status>"
        b"<MfaDelete>Enabled</MfaDelete></VersioningConfiguration>",
    ],
    "PutObjectLockConfiguration on a bucket created without Object Lock "
    "([object-lock.md](object-lock.md))": [
        b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>"
        b"<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days></DefaultRetention>"
        b"</Rule></ObjectLockConfiguration>"
    ],
    "PutBucketLifecycleConfiguration with a rule kind domicile does not enforce (expiration "
    "of current versions, transitions, tag or size filters, `NewerNoncurrentVersions`)": [
        b"<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix></Prefix></Filter>"
        b"<Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>"
        b"</LifecycleConfiguration>"
    ],
}
ORIGINAL = b"original"


@dataclass(frozen=True)
class Row:
    methods: tuple[str, ...]
    target: str
    headers: tuple[tuple[str, str], ...]
    with_body: bool
    operation: str
    answer: tuple[int, str] | None  # None: supported

    def __str__(self) -> str:
        return f"{','.join(self.methods)} {self.target} {dict(self.headers)}"


def table() -> list[Row]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        request, headers, operation, answer = (c.strip() for c in line.strip("|").split(" | "))
        methods, target = request.strip("`").split(" ", 1)
        pairs = tuple(
            (name.strip().lower(), value.strip())
            for name, _, value in (
                span.partition(":") for span in re.findall(r"`([^`]+)`", headers)
            )
        )
        found = re.fullmatch(r"`(\d{3}) (\w+)`", answer)
        assert found or answer == "supported", line
        rows.append(
            Row(
                tuple(methods.split(",")),
                target,
                pairs,
                headers.startswith("body"),
                operation,
                (int(found.group(1)), found.group(2)) if found else None,
            )
        )
    return rows


ROWS = table()


def test_the_table_is_there_and_covers_every_unserved_subresource() -> None:
    assert len([r for r in ROWS if r.answer]) >= 40
    documented = {name for r in ROWS if r.answer for name in re.findall(r"[?&]([\w-]+)", r.target)}
    assert UNSUPPORTED - documented <= {
        "abac",
        "metadataConfiguration",
        "metadataInventoryTable",
        "metadataJournalTable",
    }


_names = iter(range(1_000_000))


def _fill(row: Row, bucket: str) -> tuple[str, list[tuple[str, str]], dict[str, str], str]:
    new = f"new-{next(_names):04d}-bucket"
    target = row.target.format(bucket=bucket, key="k", new=new)
    path, _, raw_query = target.partition("?")
    query = [(n, v) for n, _, v in (p.partition("=") for p in raw_query.split("&") if p)]
    headers = {n: v.format(bucket=bucket, key="k") for n, v in row.headers}
    return path, query, headers, new


def _bodies(row: Row, method: str, path: str) -> list[bytes]:
    if row.with_body:
        return BODIES[row.operation]
    is_upload = method == "PUT" and path.count("/") == 2 and not row.target.count("?")
    return [b"data"] if is_upload else [b""]


@pytest.mark.parametrize("row", [r for r in ROWS if r.answer], ids=str)
def test_each_refused_feature_answers_its_documented_error(
    live: Any, bucket: str, row: Row
) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="k", Body=ORIGINAL)
    for method in row.methods:
        path, query, headers, new = _fill(row, bucket)
        for body in _bodies(row, method, path):
            answer = signed_request(live.endpoint, method, path, query, headers, body)
            assert row.answer is not None
            expected_code, expected_status = row.answer[1], row.answer[0]
            assert answer.error() == (expected_code, expected_status), (method, answer.body)
        assert new not in {b.name for b in live.engine.list_buckets()}
    assert live.engine.get(bucket, "k").read() == ORIGINAL
    assert [o.key for o in live.engine.list(bucket).objects] == ["k"]
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)


@pytest.mark.parametrize("row", [r for r in ROWS if r.answer is None], ids=str)
def test_each_supported_row_answers_200(live: Any, bucket: str, row: Row) -> None:
    live.client().put_object(Bucket=bucket, Key="k", Body=ORIGINAL)
    for method in row.methods:
        path, query, headers, _ = _fill(row, bucket)
        body = _bodies(row, method, path)[0]
        answer = signed_request(live.endpoint, method, path, query, headers, body)
        assert answer.status == 200, answer.body
