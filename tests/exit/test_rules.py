"""Which version is current: the newest manifest, or the audit history (an export, the
sites' history segments), and what each rule does with deleted and replaced versions."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import domicile
from domicile.audit.export import export_lines
from domicile.engine import ObjectMeta
from tests.exit.deployment import (
    BARE,
    Deployment,
    check_recovered,
    read_index,
    run_exit,
    site_copy,
)

pytestmark = pytest.mark.age_cli


def test_the_exit_python_cannot_import_domicile() -> None:
    probe = subprocess.run([*BARE, "-c", "import domicile"], capture_output=True, check=False)
    assert probe.returncode != 0 and b"ModuleNotFoundError" in probe.stderr


def test_newest_manifest_rule_recovers_every_object(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-time"), dep.root / "out-time"
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 0, done.stderr
    index = read_index(out)
    # without the catalog or an export, a deleted object whose blobs linger comes back
    check_recovered(
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
    check_recovered(dep.expected, out, index)
    statuses = {e["version_id"]: e["status"] for e in index}
    assert statuses[dep.deleted_version] == "deleted"
    assert statuses[dep.superseded_version] == "superseded"
    assert json.loads((out / "summary.json").read_text())["rule"] == "audit-export"


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


def test_an_export_after_a_catalog_rebuild_covers_none_of_the_objects(
    dep: Deployment, tmp_path: Path
) -> None:
    """A deployment that never shipped its audit history to the sites (``audit_history =
    false``): after rebuild-catalog its audit log starts again, the objects were written
    before the export's first record, so the newest-manifest rule decides for them."""
    for name in ("sites", "domicile.toml", "keyring.txt", "audit-key.pem"):
        source = dep.root / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, symlinks=True)
        else:
            shutil.copy2(source, tmp_path / name)
    for segment in (tmp_path / "sites").rglob("alog-*"):
        segment.unlink()
    config = tmp_path / "domicile.toml"
    config.write_text(
        config.read_text().replace("[deployment]\n", "[deployment]\naudit_history = false\n", 1)
    )
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
    check_recovered({("docs", "after-the-rebuild"): (b"new", new)}, strict, index)
    assert sum(e["status"] == "outside-export" for e in index) == len(dep.expected)
    check_recovered(
        {**dep.expected, ("docs", "after-the-rebuild"): (b"new", new)}, out, read_index(out)
    )


def test_the_audit_history_segments_on_the_site(dep: Deployment) -> None:
    """With --site-history, the history segments domicile shipped to the site
    (alog-<first>-<last>, each an audit export encrypted to the keyring) take the export's
    place."""
    copy, out = site_copy(dep, "copy-history"), dep.root / "out-history"
    shipped = list(copy.rglob("alog-*"))
    assert shipped
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, "--site-history", copy)
    assert done.returncode == 0, done.stderr
    index = read_index(out)
    check_recovered(dep.expected, out, index)
    statuses = {e["version_id"]: e["status"] for e in index}
    assert statuses[dep.deleted_version] == "deleted"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rule"] == "site-history"
    assert summary["skipped"]["history_segments"] == len(shipped)

    none = site_copy(dep, "copy-no-history")
    for segment in none.rglob("alog-*"):
        segment.unlink()
    bare = run_exit(
        "--keyring", dep.root / "keyring.txt", "--out", dep.root / "out-history-none",
        "--site-history", none,
    )  # fmt: skip
    assert bare.returncode == 2 and "no audit history segment" in bare.stderr
