"""granian's embedded server (``granian.server.embed``) is experimental upstream, so the
gateway pins granian to the minor release it is tested with. These tests fail, saying
what to do, when the installed granian is outside that bound or lacks what the gateway
calls."""

from __future__ import annotations

import inspect
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

from domicile.gateway.server import Granian, granian_options

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
MOVE_THE_BOUND = (
    "granian's embedded server API is experimental upstream: run the gateway's tests "
    "(tests/gateway, tests/cli/test_serve*.py) on the new release, then move the bound "
    "in pyproject.toml"
)


def granian_requirement() -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    found = [Requirement(d) for d in deps if Requirement(d).name == "granian"]
    assert len(found) == 1, "pyproject.toml must name granian once among the dependencies"
    return found[0]


def test_granian_has_an_upper_bound() -> None:
    spec = granian_requirement().specifier
    assert any(s.operator == "<" for s in spec), f"granian{spec} has no upper bound"
    assert any(s.operator == ">=" for s in spec), f"granian{spec} has no lower bound"


def test_the_installed_granian_is_within_the_tested_bound() -> None:
    spec = granian_requirement().specifier
    installed = metadata.version("granian")
    assert spec.contains(installed), (
        f"granian {installed} is installed; the gateway is tested with granian{spec}. "
        + MOVE_THE_BOUND
    )


def test_the_embedded_server_takes_what_the_gateway_gives() -> None:
    params = inspect.signature(Granian.__init__).parameters
    given = granian_options("127.0.0.1", 9000, None, None)
    missing = sorted(set(given) - set(params))
    assert not missing, (
        f"granian {metadata.version('granian')}'s embedded Server takes no {missing}. "
        + MOVE_THE_BOUND
    )
    assert inspect.iscoroutinefunction(Granian.serve), "granian's Server.serve is not async"
    assert callable(getattr(Granian, "stop", None)), "granian's Server has no stop()"
