"""The README's rclone remote, as printed there, works against a live gateway: only the
endpoint and the credentials are replaced by the test gateway's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.gateway import clients as c
from tests.gateway.live import ACCESS_KEY, SECRET, Live, run_gateway

README = Path(__file__).parents[2] / "README.md"


def readme_remote() -> str:
    """The ``[domicile]`` rclone remote the README shows."""
    blocks = re.findall(r"```ini\n(.*?)```", README.read_text(), re.DOTALL)
    remotes = [b for b in blocks if b.startswith("[domicile]\n")]
    assert len(remotes) == 1, "README.md should show one [domicile] rclone remote"
    return remotes[0]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with run_gateway(tmp_path_factory.mktemp("readme-rclone") / "deployment") as gateway:
        yield gateway


def test_the_readme_rclone_remote_works(live: Live, tmp_path: Path) -> None:
    remote = readme_remote()
    for line in ("endpoint = http://127.0.0.1:9000", "access_key_id = ACCESS_KEY"):
        assert line in remote
    conf = tmp_path / "rclone.conf"
    conf.write_text(
        remote.replace("http://127.0.0.1:9000", live.endpoint)
        .replace("= ACCESS_KEY", f"= {ACCESS_KEY}")
        .replace("= SECRET", f"= {SECRET}")
    )
    env = c.base_env(tmp_path / "home")
    rclone = [c.require("rclone", "apt-get install rclone"), "--config", str(conf)]
    rclone += ["--retries", "1", "--low-level-retries", "1"]
    docs = tmp_path / "docs"
    written = c.make_tree(docs, ["design.md", "deep/er/notes.md"])

    c.run([*rclone, "mkdir", "domicile:minutes"], env)
    assert live.engine.bucket("minutes").policy == "eu-only"
    c.run([*rclone, "copy", str(docs), "domicile:minutes/docs"], env)
    listing = c.run([*rclone, "ls", "domicile:minutes"], env).stdout
    for name, data in written.items():
        assert f"{len(data)} docs/{name}" in listing
        assert live.engine.get("minutes", f"docs/{name}").read() == data
