"""Manifests anyone who knows the public key can plant, names a file system would follow
out of the output, names a file system refuses, and multipart ETags."""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from domicile.engine import ObjectMeta
from domicile.sites.layout import fan_of
from tests.exit.deployment import (
    SCRIPT,
    Deployment,
    check_recovered,
    read_index,
    run_exit,
    seal_with_stock_age,
    site_copy,
)

pytestmark = pytest.mark.age_cli


def _plant(dep: Deployment, copy: Path, bucket: str, key: str, created_at: float) -> str:
    """Plant an inline object b"hello" under ``bucket``/``key``; return its version id."""
    version = hashlib.sha256(key.encode(errors="surrogatepass")).hexdigest()[:32]
    manifest = {
        "schema": 2, "inline": True, "bucket": bucket, "key": key, "version_id": version,
        "created_at": created_at, "size": 5, "etag": "5d41402abc4b2a76b9719d911017c592",
        "meta": {"content_type": "text/plain", "content_encoding": None,
                 "content_disposition": None, "cache_control": None, "expires": None,
                 "user": {"x": "y"}}, "policy": "p", "tenant": "t",
    }  # fmt: skip
    blob = copy / fan_of("m" + version) / ("m" + version)
    seal_with_stock_age(dep, b"hello\n" + json.dumps(manifest).encode(), blob)
    return version


def test_planted_manifests_and_hostile_names(dep: Deployment) -> None:
    """Anyone who knows the keyring's public key can plant a manifest (age does not
    authenticate senders). One names a bucket and a key a file system would follow out of
    the output folder: it lands under hashed/, and the index names it exactly. With the
    audit export, a planted version inside the export's time span is never-committed; one
    dated after it is taken by the time rule, unless --strict."""
    copy, out = site_copy(dep, "copy-hostile", lingering=False), dep.root / "out-hostile"
    times = [
        json.loads(line)["time"]
        for line in (dep.root / "audit.jsonl").read_text().splitlines()
        if '"type":"record"' in line
    ]
    bucket, key = "../../evil", "../../../escape\nnew line/..//x"
    hostile = _plant(dep, copy, bucket, key, (min(times) + max(times)) / 2e6)
    later = _plant(dep, copy, "docs", "planted-later", 4e9)
    surrogate = _plant(dep, copy, "docs", "lone \ud800 surrogate", 4e9)
    planted = ObjectMeta(content_type="text/plain", user={"x": "y"})
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 0, done.stderr
    [odd] = [e for e in read_index(out) if e["version_id"] == surrogate]
    assert odd["key"] == "lone \ud800 surrogate" and odd["file"].startswith("hashed/docs/")
    (out / odd["file"]).unlink()  # checked; the rest is as without it
    [entry] = [e for e in read_index(out) if e["key"] == key]
    assert entry["bucket"] == bucket and entry["status"] == "recovered"
    assert entry["file"].startswith("hashed/_") and "/../" not in entry["file"]
    assert (out / entry["file"]).read_bytes() == b"hello"
    assert not (dep.root / "evil").exists() and not list(dep.root.glob("escape*"))
    both = {(bucket, key): (b"hello", planted), ("docs", "planted-later"): (b"hello", planted)}
    index = [e for e in read_index(out) if e["version_id"] != surrogate]
    check_recovered({**dep.expected, **both}, out, index)

    for strict in ([], ["--strict"]):
        out = dep.root / f"out-hostile-export{len(strict)}"
        done = run_exit(
            "--keyring", dep.root / "keyring.txt", "--out", out,
            "--audit-export", dep.root / "audit.jsonl", *strict, copy,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        index = read_index(out)
        for entry in index:
            if entry["version_id"] == surrogate and entry["file"]:
                (out / entry["file"]).unlink()  # dated after the export, like planted-later
        index = [e for e in index if e["version_id"] != surrogate]
        status = {e["version_id"]: e["status"] for e in index}
        assert status[hostile] == "never-committed"
        if strict:
            assert status[later] == "outside-export"
            check_recovered(dep.expected, out, index)
        else:
            assert status[later] == "recovered"
            check_recovered(
                {**dep.expected, ("docs", "planted-later"): both["docs", "planted-later"]},
                out,
                index,
            )


def _plant_multipart(dep: Deployment, copy: Path, key: str, etag: str) -> None:
    """Plant a schema 1 version of 8 bytes in two segments (4 + 4), made by a multipart
    upload of two parts (3 + 5), with ``part_sizes`` (written by deployments that keep
    them) and the given ETag."""
    segments = []
    for i, chunk in enumerate((b"abcd", b"efgh")):
        blob_id = "b" + hashlib.sha256(f"{key}{i}".encode()).hexdigest()[:32]
        blob = copy / fan_of(blob_id) / blob_id
        seal_with_stock_age(dep, chunk, blob)
        data = blob.read_bytes()
        segments.append({
            "blob_id": blob_id, "plaintext_size": 4, "header_length": data.index(b"\n---") + 49,
            "ciphertext_length": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        })  # fmt: skip
    version = hashlib.sha256(key.encode()).hexdigest()[:32]
    manifest = {
        "schema": 1, "bucket": "docs", "key": key, "version_id": version, "created_at": 4e9,
        "size": 8, "etag": etag, "part_sizes": [3, 5], "segments": segments,
        "meta": {"content_type": "application/octet-stream", "content_encoding": None,
                 "content_disposition": None, "cache_control": None, "expires": None,
                 "user": {}}, "policy": "p", "tenant": "t",
    }  # fmt: skip
    seal_with_stock_age(
        dep, json.dumps(manifest).encode(), copy / fan_of("m" + version) / ("m" + version)
    )


def test_a_multipart_etag_is_checked_when_the_part_sizes_are_known(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-parts", lingering=False), dep.root / "out-parts"
    md5 = lambda data: hashlib.md5(data, usedforsecurity=False)  # noqa: E731
    good = md5(md5(b"abc").digest() + md5(b"defgh").digest()).hexdigest() + "-2"
    _plant_multipart(dep, copy, "parts/good", good)
    wrong = md5(md5(b"abcd").digest() + md5(b"efgh").digest()).hexdigest() + "-2"
    _plant_multipart(dep, copy, "parts/wrong", wrong)  # the segments' MD5s, not the parts'
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 1 and "docs/parts/wrong" in done.stderr
    entries = {e["key"]: e for e in read_index(out) if e["key"].startswith("parts/")}
    assert entries["parts/good"]["status"] == "recovered" and entries["parts/good"]["etag_checked"]
    assert (out / entries["parts/good"]["file"]).read_bytes() == b"abcdefgh"
    assert entries["parts/wrong"]["status"] == "failed" and entries["parts/wrong"]["file"] is None
    [archive] = [e for e in read_index(out) if e["key"] == "archive.zip"]
    assert archive["status"] == "recovered" and not archive["etag_checked"]  # no part sizes


def _load_script() -> Any:
    """The script as a module, to run it in-process with the file system's refusals faked
    (no FAT disk can be mounted here)."""
    spec = importlib.util.spec_from_file_location("domicile_exit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["domicile_exit"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_file_system_that_refuses_names_or_links(
    dep: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a FAT or exFAT disk, `*` cannot be in a name and link() fails with EPERM: the
    object whose name is refused goes to its hashed path, and files are renamed into
    place instead of linked."""
    script = _load_script()
    real_link = os.link

    def fat_link(source: Any, target: Any) -> None:
        if "*" in Path(target).name:
            raise OSError(errno.EINVAL, "Invalid argument", str(target))
        raise OSError(errno.EPERM, "Operation not permitted", str(target))

    monkeypatch.setattr(script.os, "link", fat_link)
    keyring = ["--keyring", str(dep.root / "keyring.txt")]
    out = tmp_path / "out"
    assert script.main([*keyring, "--out", str(out), str(dep.root / "sites" / "fr")]) == 0
    monkeypatch.setattr(script.os, "link", real_link)
    index = read_index(out)
    [odd] = [e for e in index if e["key"] == "-rf *"]
    assert odd["file"] == script.hashed_path("docs", "-rf *")
    check_recovered(dep.expected, out, index)
