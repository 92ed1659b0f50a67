"""``domicile versioning``, ``ls --versions`` and ``get/stat/rm --version-id``."""

from __future__ import annotations

from pathlib import Path

from tests.cli.conftest import Run


def test_versioning_from_the_cli(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    status = run(*cfg, "--json", "versioning", "reports", "status")
    assert status.code == 0, status.err
    assert status.json() == {"bucket": "reports", "versioning": None}
    assert "never enabled" in run(*cfg, "versioning", "reports").out
    enabled = run(*cfg, "--json", "versioning", "reports", "enable").json()
    assert enabled["versioning"] == "Enabled"
    src = tmp_path / "in.txt"
    ids = []
    for body in (b"one", b"two"):
        src.write_bytes(body)
        ids.append(run(*cfg, "--json", "put", str(src), "reports/k").json()["s3_version_id"])
    assert ids[0] != ids[1] and "null" not in ids

    out = tmp_path / "out.txt"
    assert run(*cfg, "get", "reports/k", str(out), "--version-id", ids[0]).code == 0
    assert out.read_bytes() == b"one"
    old = run(*cfg, "--json", "stat", "reports/k", "--version-id", ids[0]).json()
    assert (old["size"], old["is_latest"]) == (3, False)
    assert "latest" in run(*cfg, "stat", "reports/k", "--version-id", ids[0]).out
    copies = run(*cfg, "--json", "where", "reports/k", "--version-id", ids[0]).json()
    assert len(copies) == 2 and all(c["compliant"] for c in copies)

    marker = run(*cfg, "--json", "rm", "reports/k").json()
    assert marker["delete_marker"] is True and marker["removed"] is True
    assert run(*cfg, "stat", "reports/k").code == 4  # the key is deleted...
    listed = run(*cfg, "--json", "ls", "--versions", "reports/").json()["versions"]
    assert [(v["s3_version_id"], v["delete_marker"]) for v in listed] == [
        (marker["version_id"], True),
        (ids[1], False),
        (ids[0], False),
    ]
    table = run(*cfg, "ls", "--versions", "reports")
    assert "delete marker" in table.out and ids[0] in table.out
    paged = run(*cfg, "--json", "ls", "--versions", "--limit", "1", "reports").json()
    assert paged["is_truncated"] and paged["next_version_id_marker"] == marker["version_id"]
    rest = run(
        *cfg, "--json", "ls", "--versions", "reports", "--start-after", "k",
        "--version-id-marker", marker["version_id"],
    ).json()  # fmt: skip
    assert [v["s3_version_id"] for v in rest["versions"]] == ids[::-1]

    # ...until its marker is removed by id; a bad id is a usage error of exit code 8
    undone = run(*cfg, "rm", "reports/k", "--version-id", marker["version_id"])
    assert "removed delete marker" in undone.out
    assert run(*cfg, "--json", "stat", "reports/k").json()["s3_version_id"] == ids[1]
    bad = run(*cfg, "get", "reports/k", "--version-id", "nope")
    assert bad.code == 8 and "invalid version id" in bad.err
    missing = run(*cfg, "stat", "reports/k", "--version-id", "0" * 32)
    assert missing.code == 4
    assert "Suspended" in run(*cfg, "versioning", "reports", "suspend").out
