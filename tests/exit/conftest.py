"""One deployment for every exit test of the session (they only read it)."""

from __future__ import annotations

import pytest

from tests.exit.deployment import Deployment, build


@pytest.fixture(scope="session")
def dep(tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return build(tmp_path_factory.mktemp("exit"))
