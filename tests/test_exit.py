"""The exit (docs/exit.md): tools/domicile_exit.py recovers a deployment from one site's
folder and the keyring with the stock age tool, in a Python that cannot import domicile."""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import os
import pty
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import domicile
from domicile.audit.export import export_lines
from domicile.crypto import Keyring
from domicile.crypto.secret import Secret
from domicile.engine import ObjectMeta
from domicile.sites import LocalSite
from domicile.sites.layout import fan_of

pytestmark = pytest.mark.age_cli

SCRIPT = Path(__file__).parent.parent / "tools" / "domicile_exit.py"
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


def _keep(root: Path, names: list[str]) -> list[Path]:
    """Copies (outside the sites) of the blob files named ``names`` on site fr."""
    aside = root / "aside"
    aside.mkdir(exist_ok=True)
    kept = []
    for path in (root / "sites" / "fr").rglob("*"):
        if path.name in names:
            kept.append(Path(shutil.copy2(path, aside / path.name)))
    assert sorted(p.name for p in kept) == sorted(names)
    return kept


def _blob_ids(engine: domicile.Domicile, bucket: str, key: str) -> list[str]:
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
            dep.segments[slot] = _blob_ids(engine, *slot)
        engine.copy("media", "film.mkv", "docs", "copies/film.mkv")
        dep.expected[("docs", "copies/film.mkv")] = dep.expected[("media", "film.mkv")]
        # overwritten: v1's blobs kept aside, as a site that missed their deletion holds them
        put("docs", "overwritten", b"version one", ObjectMeta(user={"v": "1"}))
        dep.superseded_version = engine.head("docs", "overwritten").version_id
        dep.lingering["overwritten"] = _keep(root, _blob_ids(engine, "docs", "overwritten"))
        time.sleep(0.01)
        put("docs", "overwritten", b"version two", ObjectMeta(user={"v": "2"}))
        # deleted: one cleanly, one whose blobs linger (as if the site was down)
        for key in ("deleted", "deleted-lingering"):
            body = os.urandom(2 * MiB)
            engine.put("media", key, body, content_type="x/y")
        dep.deleted_object = (body, ObjectMeta(content_type="x/y"))
        dep.deleted_version = engine.head("media", "deleted-lingering").version_id
        blobs = _blob_ids(engine, "media", "deleted-lingering")
        dep.lingering["deleted-lingering"] = _keep(root, blobs)
        assert engine.delete("media", "deleted") and engine.delete("media", "deleted-lingering")
        export = export_lines(engine.audit.records(), engine.audit.checkpoints())
        (root / "audit.jsonl").write_text("".join(line + "\n" for line in export))
        assert sum(1 for _ in _all(engine)) == len(dep.expected) >= 50
        assert {(b, k) for b, k, _ in _all(engine)} == set(dep.expected)
    return dep


def _all(engine: domicile.Domicile) -> Iterator[tuple[str, str, Any]]:
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


@pytest.fixture(scope="module")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return build(tmp_path_factory.mktemp("exit"))


def test_the_exit_python_cannot_import_domicile() -> None:
    probe = subprocess.run([*BARE, "-c", "import domicile"], capture_output=True, check=False)
    assert probe.returncode != 0 and b"ModuleNotFoundError" in probe.stderr


def _check_recovered(
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


def test_newest_manifest_rule_recovers_every_object(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-time"), dep.root / "out-time"
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 0, done.stderr
    index = read_index(out)
    # without the catalog or an export, a deleted object whose blobs linger comes back
    _check_recovered(
        {**dep.expected, ("media", "deleted-lingering"): dep.deleted_object}, out, index
    )
    by_slot = {(e["bucket"], e["key"]): e for e in index if e["status"] == "recovered"}
    assert by_slot["media", "deleted-lingering"]["version_id"] == dep.deleted_version
    assert ("media", "deleted") not in {(e["bucket"], e["key"]) for e in index}
    old = [e for e in index if e["version_id"] == dep.superseded_version]
    assert [e["status"] for e in old] == ["superseded"] and old[0]["file"] is None
    assert (out / by_slot[("docs", "overwritten")]["file"]).read_bytes() == b"version two"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rule"] == "newest-manifest" and summary["problems"] == []
    assert summary["skipped"]["checkpoints"] >= 1


def test_audit_export_rule_marks_deletions(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-export"), dep.root / "out-export"
    done = run_exit(
        "--keyring",
        dep.root / "keyring.txt",
        "--out",
        out,
        "--audit-export",
        dep.root / "audit.jsonl",
        copy,
    )
    assert done.returncode == 0, done.stderr
    index = read_index(out)
    _check_recovered(dep.expected, out, index)
    statuses = {e["version_id"]: e["status"] for e in index}
    assert statuses[dep.deleted_version] == "deleted"
    assert statuses[dep.superseded_version] == "superseded"
    assert json.loads((out / "summary.json").read_text())["rule"] == "audit-export"


def _seal_with_stock_age(dep: Deployment, plaintext: bytes, blob: Path) -> None:
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
    _seal_with_stock_age(dep, b"hello\n" + json.dumps(manifest).encode(), blob)
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
    _check_recovered({**dep.expected, **both}, out, index)

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
            _check_recovered(dep.expected, out, index)
        else:
            assert status[later] == "recovered"
            _check_recovered(
                {**dep.expected, ("docs", "planted-later"): both["docs", "planted-later"]},
                out,
                index,
            )


def test_a_corrupt_segment_fails_alone_and_another_copy_serves(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-corrupt", lingering=False), dep.root / "out-corrupt"
    segments = dep.segments["media", "film.mkv"]
    blob = next(copy.rglob(segments[1]))
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1  # same length: only the SHA-256 (and age) can tell
    blob.write_bytes(bytes(data))
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 1
    assert "media/film.mkv" in done.stderr and segments[1] in done.stderr
    [entry] = [e for e in read_index(out) if e["key"] == "film.mkv"]
    assert entry["status"] == "failed" and entry["file"] is None
    assert not (out / "objects" / "media" / "film.mkv").exists()
    others = {k: v for k, v in dep.expected.items() if k != ("media", "film.mkv")}
    _check_recovered(others, out, [e for e in read_index(out) if e["key"] != "film.mkv"])

    # the second site's folder holds a good copy of that segment
    out2 = dep.root / "out-corrupt-2"
    done = run_exit(
        "--keyring", dep.root / "keyring.txt", "--out", out2, copy, dep.root / "sites" / "de"
    )
    assert done.returncode == 0, done.stderr
    _check_recovered(dep.expected, out2, read_index(out2))


def test_a_flat_folder_as_synced_from_an_s3_site(dep: Deployment) -> None:
    """An S3 site stores blob <id> as <prefix><id>: a sync of the prefix is a flat folder."""
    flat, out = dep.root / "flat", dep.root / "out-flat"
    flat.mkdir()
    for path in (dep.root / "sites" / "fr").rglob("*"):
        if path.is_file() and path.parent.name != ".tmp" and path.name != ".domicile-site":
            shutil.copy2(path, flat / path.name)
    (flat / "README.txt").write_text("another tool's file")
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, flat)
    assert done.returncode == 0, done.stderr
    _check_recovered(dep.expected, out, read_index(out))
    assert json.loads((out / "summary.json").read_text())["skipped"]["ignored_files"] == 1


def test_an_object_the_export_names_but_no_copy_holds(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-absent", lingering=False), dep.root / "out-absent"
    manifest = dep.segments["media", "archive.zip"][0]
    assert manifest.startswith("m")
    next(copy.rglob(manifest)).unlink()
    done = run_exit(
        "--keyring", dep.root / "keyring.txt", "--out", out,
        "--audit-export", dep.root / "audit.jsonl", copy,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    [entry] = [e for e in read_index(out) if e["key"] == "archive.zip"]
    assert entry["status"] == "absent" and entry["file"] is None


def test_a_passphrase_protected_keyring(dep: Deployment, tmp_path: Path) -> None:
    """age asks for the passphrase once, on the terminal (here a pseudo-terminal on stdin,
    with no controlling terminal), then every blob is opened with the identities in memory."""
    plain = Keyring.load(dep.root / "keyring.txt")
    keyring = tmp_path / "protected.txt"  # as `domicile init --passphrase` writes it
    Keyring(keyring, list(plain.entries), Secret("correct horse battery")).save()
    assert keyring.read_bytes().startswith(b"age-encryption.org/v1\n-> scrypt ")
    out = tmp_path / "out"
    master, terminal = pty.openpty()
    command = [*BARE, str(SCRIPT), "--keyring", str(keyring), "--out", str(out)]
    proc = subprocess.Popen(
        [*command, str(dep.root / "sites" / "fr")],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        os.write(master, b"correct horse battery\n")
        _, stderr = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0, stderr
    _check_recovered(dep.expected, out, read_index(out))

    # no terminal to ask the passphrase on: nothing is written, exit 2
    wrong = run_exit("--keyring", keyring, "--out", tmp_path / "out2", dep.root / "sites" / "fr")
    assert wrong.returncode == 2 and "protected keyring" in wrong.stderr
    assert not (tmp_path / "out2").exists()


def test_an_export_after_a_catalog_rebuild_covers_none_of_the_objects(
    dep: Deployment, tmp_path: Path
) -> None:
    """After rebuild-catalog the audit log starts again: the objects were written before
    the export's first record, so the newest-manifest rule decides for them."""
    for name in ("sites", "domicile.toml", "keyring.txt", "audit-key.pem"):
        source = dep.root / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, symlinks=True)
        else:
            shutil.copy2(source, tmp_path / name)
    with domicile.open(tmp_path / "domicile.toml") as engine:
        assert engine.rebuild_catalog().versions == len(dep.expected)
        engine.put("docs", "after-the-rebuild", b"new", content_type="text/plain")
        export = export_lines(engine.audit.records(), engine.audit.checkpoints())
        (tmp_path / "audit.jsonl").write_text("".join(line + "\n" for line in export))
    assert not any(
        json.loads(line).get("key") == "overwritten"
        for line in (tmp_path / "audit.jsonl").read_text().splitlines()
    )
    out = tmp_path / "out"
    done = run_exit(
        "--keyring", tmp_path / "keyring.txt", "--out", out,
        "--audit-export", tmp_path / "audit.jsonl", tmp_path / "sites" / "fr",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    new = ObjectMeta(content_type="text/plain")
    strict = tmp_path / "out-strict"
    done = run_exit(
        "--keyring", tmp_path / "keyring.txt", "--out", strict, "--strict",
        "--audit-export", tmp_path / "audit.jsonl", tmp_path / "sites" / "fr",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    index = read_index(strict)
    _check_recovered({("docs", "after-the-rebuild"): (b"new", new)}, strict, index)
    assert sum(e["status"] == "outside-export" for e in index) == len(dep.expected)
    _check_recovered(
        {**dep.expected, ("docs", "after-the-rebuild"): (b"new", new)}, out, read_index(out)
    )


def test_the_audit_history_segments_on_the_site(dep: Deployment) -> None:
    """With --site-history, the history segments on the site (alog-<first>-<last>, each an
    audit export encrypted to the keyring) take the export's place."""
    copy, out = site_copy(dep, "copy-history"), dep.root / "out-history"
    lines = (dep.root / "audit.jsonl").read_text().splitlines()
    header, records = lines[0], [line for line in lines if '"type":"record"' in line]
    half = len(records) // 2
    for part in (records[:half], records[half:]):
        first, last = json.loads(part[0])["seq"], json.loads(part[-1])["seq"]
        name = f"alog-{first:020d}-{last:020d}"
        text = "\n".join([header, *part]) + "\n"
        _seal_with_stock_age(dep, text.encode(), copy / fan_of(name) / name)
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, "--site-history", copy)
    assert done.returncode == 0, done.stderr
    index = read_index(out)
    _check_recovered(dep.expected, out, index)
    statuses = {e["version_id"]: e["status"] for e in index}
    assert statuses[dep.deleted_version] == "deleted"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rule"] == "site-history" and summary["skipped"]["history_segments"] == 2

    bare = run_exit(
        "--keyring", dep.root / "keyring.txt", "--out", dep.root / "out-history-none",
        "--site-history", dep.root / "sites" / "fr",
    )  # fmt: skip
    assert bare.returncode == 2 and "no audit history segment" in bare.stderr


def test_a_missing_segment_makes_its_version_incomplete(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-missing", lingering=False), dep.root / "out-missing"
    segments = dep.segments["media", "film.mkv"]
    next(copy.rglob(segments[2])).unlink()
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 1 and "media/film.mkv" in done.stderr
    [entry] = [e for e in read_index(out) if e["bucket"] == "media" and e["key"] == "film.mkv"]
    assert entry["status"] == "incomplete" and entry["file"] is None


def test_refusals_write_nothing(dep: Deployment, tmp_path: Path) -> None:
    site = dep.root / "sites" / "fr"
    keyring = ["--keyring", str(dep.root / "keyring.txt")]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    cases = [
        ([*keyring, "--out", tmp_path / "taken", site], "must be a new or empty folder"),
        ([*keyring, "--out", tmp_path / "o1", "--strict", site], "--strict needs"),
        ([*keyring, "--out", tmp_path / "o2", "--age", tmp_path / "no-age", site], "missing"),
        (["--keyring", site / ".domicile-site", "--out", tmp_path / "o3", site], "no age identity"),
        ([*keyring, "--out", tmp_path / "o4", tmp_path / "nowhere"], "is not a folder"),
    ]
    for args, message in cases:
        done = run_exit(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (tmp_path / "taken" / "file").read_text() == "mine"


def _plant_multipart(dep: Deployment, copy: Path, key: str, etag: str) -> None:
    """Plant a schema 1 version of 8 bytes in two segments (4 + 4), made by a multipart
    upload of two parts (3 + 5), with ``part_sizes`` (written by deployments that keep
    them) and the given ETag."""
    segments = []
    for i, chunk in enumerate((b"abcd", b"efgh")):
        blob_id = "b" + hashlib.sha256(f"{key}{i}".encode()).hexdigest()[:32]
        blob = copy / fan_of(blob_id) / blob_id
        _seal_with_stock_age(dep, chunk, blob)
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
    _seal_with_stock_age(
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
    _check_recovered(dep.expected, out, index)
