"""Suite-wide set-up: markers that follow from what a test needs, and Hypothesis profiles.

- ``servers``: the test needs the S3 test bed (the ``testbed`` fixture, directly or
  through another fixture): every such test is marked here, so ``-m "not servers"`` can
  never miss one.
- Hypothesis: the ``default`` profile is the full run (``make test``); ``quick``
  (``make check``: ``--hypothesis-profile=quick``) runs a tenth of the examples, through
  :func:`tests.examples.examples` for the tests that name their own count.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from tests.examples import QUICK_EXAMPLES

settings.register_profile("quick", max_examples=QUICK_EXAMPLES)

# pytest-xdist starts its workers with COLUMNS=80 (the controller's width). rich reads
# COLUMNS once, when a console is made (at import), and then keeps that width, so the CLI
# tests that set COLUMNS would print at 80 columns in a worker and at their width in a
# single process. Without COLUMNS, rich reads it at every print, as in a single process.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.servers)
