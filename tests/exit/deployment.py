"""A deployment for the exit's tests (docs/exit.md) and the helpers that run the script.

``build`` makes 55 objects in two buckets on two local sites that each hold every object;
``site_copy`` copies site fr's folder (what an auditor receives); ``run_exit`` runs
tools/domicile_exit.py in a Python that cannot import domicile (``-I -S``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import domicile
from domicile.audit.export import export_lines
from domicile.crypto import Keyring
from domicile.engine import ObjectMeta
from domicile.sites import LocalSite
from domicile.sites.layout import fan_of

SCRIPT = Path(__file__).parent.parent.parent / "tools" / "domicile_exit.py"
MiB = 1024 * 1024
#: A Python that cannot import domicile: isolated (-I) and without site-packages (-S).
BARE = [sys.executable, "-I", "-S"]

CONFIG = """
[deployment]
name = "exit"
segment_size_mib = 1

[sites.fr]
country = "FR"
operator = "ovh-sas"
provider = "ovhcloud"
backend = { type = "local", path = "sites/fr" }

[sites.de]
country = "DE"
operator = "hetzner-online"
provider = "hetzner"
backend = { type = "local", path = "sites/de" }

[policies.eu-two]
allow = ["EU"]
copies = 2
distinct = "provider"

[buckets.docs]
policy = "eu-two"

[buckets.media]
policy = "eu-two"
"""

#: Keys an S3 client may use that cannot all be paths as they are (docs/exit.md).
HOSTILE_KEYS = [
    "/leading/slash",
    "a..b/..c/d..",
    "folder-marker/",
    "x",
    "x/y",
    "Case",
    "case",
    "a//b",
    "long/" + "é" * 400,  # 805 bytes, one segment of 800: more than a file name may hold
    "s" * 300,
    "données/rapport 2024 (final).pdf",
    "-rf *",
]


@dataclass
class Deployment:
    root: Path
    expected: dict[tuple[str, str], tuple[bytes, ObjectMeta]] = field(default_factory=dict)
    lingering: dict[str, list[Path]] = field(default_factory=dict)
    superseded_version: str = ""
    deleted_version: str = ""
    deleted_object: tuple[bytes, ObjectMeta] = (b"", ObjectMeta())
    #: The blob ids of some objects (manifest first, then segments).
    segments: dict[tuple[str, str], list[str]] = field(default_factory=dict)


def keep(root: Path, names: list[str]) -> list[Path]:
    """Copies (outside the sites) of the blob files named ``names`` on site fr."""
    aside = root / "aside"
    aside.mkdir(exist_ok=True)
    kept = []
    for path in (root / "sites" / "fr").rglob("*"):
        if path.name in names:
            kept.append(Path(shutil.copy2(path, aside / path.name)))
    assert sorted(p.name for p in kept) == sorted(names)
    return kept


def blob_ids(engine: domicile.Domicile, bucket: str, key: str) -> list[str]:
    """The manifest's blob id, then the segments' (an inline object's are the same one)."""
    catalog = engine.context.catalog
    version = catalog.current_version(bucket, key)
    segments = [s.blob_id for s in catalog.segments(version.version_id)]
    return [version.manifest_blob_id, *(s for s in segments if s != version.manifest_blob_id)]


def build(root: Path) -> Deployment:
    """A deployment of 60 objects on two sites that each hold every object."""
    for site in ("fr", "de"):
        LocalSite.create(site, root / "sites" / site)
    Keyring.create(root / "keyring.txt")
    (root / "domicile.toml").write_text(CONFIG)
    dep = Deployment(root)
    with domicile.open(root / "domicile.toml") as engine:

        def put(bucket: str, key: str, body: bytes, meta: ObjectMeta) -> None:
            engine.put(bucket, key, body, meta=meta)
            dep.expected[(bucket, key)] = (body, meta)

        for i in range(36):  # small (inline) objects, with every kind of metadata
            body = os.urandom(i * 997) + b"\n" * (i % 3)
            meta = ObjectMeta(
                content_type="text/plain" if i % 2 else "application/json",
                content_encoding="gzip" if i % 5 == 0 else None,
                cache_control="max-age=60" if i % 7 == 0 else None,
                content_disposition='attachment; filename="r.txt"' if i % 4 == 0 else None,
                expires="Wed, 21 Oct 2037 07:28:00 GMT" if i == 3 else None,
                user={"owner": f"team-{i}", "note": "line\tbreak ü"} if i % 2 else {},
            )
            put("docs", f"reports/{i:03d}.txt", body, meta)
        for key in HOSTILE_KEYS:
            put("docs", key, key.encode() * 3, ObjectMeta(user={"k": "hostile"}))
        put("media", "exactly-1MiB", os.urandom(MiB), ObjectMeta())  # the largest inline one
        put("media", "1MiB+1", os.urandom(MiB + 1), ObjectMeta(content_type="video/mp4"))
        put("media", "film.mkv", os.urandom(3 * MiB + MiB // 2), ObjectMeta(user={"a": "b"}))
        put("media", "empty", b"", ObjectMeta(content_type="text/plain"))
        # a multipart upload: parts of 5 MiB and 1.5 MiB, cut into 1 MiB segments
        parts = [os.urandom(5 * MiB), os.urandom(MiB + MiB // 2)]
        mmeta = ObjectMeta(content_type="application/zip", user={"via": "multipart"})
        upload = engine.create_multipart("media", "archive.zip", meta=mmeta)
        done = [
            (n, engine.upload_part("media", "archive.zip", upload.upload_id, n, p).etag)
            for n, p in enumerate(parts, 1)
        ]
        engine.complete_multipart("media", "archive.zip", upload.upload_id, done)
        dep.expected[("media", "archive.zip")] = (b"".join(parts), mmeta)
        for slot in (("media", "film.mkv"), ("media", "archive.zip")):
            dep.segments[slot] = blob_ids(engine, *slot)
        engine.copy("media", "film.mkv", "docs", "copies/film.mkv")
        dep.expected[("docs", "copies/film.mkv")] = dep.expected[("media", "film.mkv")]
        # overwritten: v1's blobs kept aside, as a site that missed their deletion holds them
        put("docs", "overwritten", b"version one", ObjectMeta(user={"v": "1"}))
        dep.superseded_version = engine.head("docs", "overwritten").version_id
        dep.lingering["overwritten"] = keep(root, blob_ids(engine, "docs", "overwritten"))
        time.sleep(0.01)
        put("docs", "overwritten", b"version two", ObjectMeta(user={"v": "2"}))
        # deleted: one cleanly, one whose blobs linger (as if the site was down)
        for key in ("deleted", "deleted-lingering"):
            body = os.urandom(2 * MiB)
            engine.put("media", key, body, content_type="x/y")
        dep.deleted_object = (body, ObjectMeta(content_type="x/y"))
        dep.deleted_version = engine.head("media", "deleted-lingering").version_id
        blobs = blob_ids(engine, "media", "deleted-lingering")
        dep.lingering["deleted-lingering"] = keep(root, blobs)
        assert engine.delete("media", "deleted") and engine.delete("media", "deleted-lingering")
        export = export_lines(engine.audit.records(), engine.audit.checkpoints())
        (root / "audit.jsonl").write_text("".join(line + "\n" for line in export))
        assert sum(1 for _ in all_objects(engine)) == len(dep.expected) >= 50
        assert {(b, k) for b, k, _ in all_objects(engine)} == set(dep.expected)
    return dep


def all_objects(engine: domicile.Domicile) -> Iterator[tuple[str, str, Any]]:
    for bucket in ("docs", "media"):
        for info in engine.list(bucket, limit=1000).objects:
            yield bucket, info.key, info


def site_copy(dep: Deployment, name: str, *, lingering: bool = True) -> Path:
    """A copy of site fr's folder (what an auditor receives), with the blobs of the
    replaced and the deleted versions put back if ``lingering``."""
    copy = dep.root / name
    shutil.copytree(dep.root / "sites" / "fr", copy, symlinks=True)
    if lingering:
        for paths in dep.lingering.values():
            for path in paths:
                (copy / fan_of(path.name)).mkdir(exist_ok=True)
                shutil.copy2(path, copy / fan_of(path.name) / path.name)
    return copy


def run_exit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BARE, str(SCRIPT), *map(str, args)], capture_output=True, text=True, check=False
    )


def read_index(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]


def check_recovered(
    expected: dict[tuple[str, str], tuple[bytes, ObjectMeta]],
    out: Path,
    index: list[dict[str, Any]],
) -> None:
    """Every current object back, byte-identical, with its metadata; every file under the
    output accounted for by the index and inside it."""
    recovered = {(e["bucket"], e["key"]): e for e in index if e["status"] == "recovered"}
    assert set(recovered) == set(expected)
    for slot, (body, meta) in expected.items():
        entry = recovered[slot]
        assert (out / entry["file"]).read_bytes() == body, slot
        assert entry["size"] == len(body)
        assert entry["meta"] == {
            "content_type": meta.content_type,
            "content_encoding": meta.content_encoding,
            "content_disposition": meta.content_disposition,
            "cache_control": meta.cache_control,
            "expires": meta.expires,
            "user": dict(meta.user),
        }, slot
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if not p.is_dir())
    assert files == sorted(
        [*(e["file"] for e in recovered.values()), "index.jsonl", "summary.json"]
    )
    assert not any(p.is_symlink() for p in out.rglob("*"))
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))


def seal_with_stock_age(dep: Deployment, plaintext: bytes, blob: Path) -> None:
    """Encrypt ``plaintext`` to the keyring's public key with the stock age, as anyone who
    learned that (public) key could, and plant it as ``blob``."""
    recipient = (
        subprocess.run(
            ["age-keygen", "-y", str(dep.root / "keyring.txt")], capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    blob.parent.mkdir(exist_ok=True)
    subprocess.run(
        ["age", "-r", recipient, "-o", str(blob)], input=plaintext, check=True, capture_output=True
    )
