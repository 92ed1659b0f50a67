"""Suite-wide set-up: markers that follow from what a test needs, and Hypothesis profiles.

- ``servers``: the test needs the S3 test bed (the ``testbed`` fixture, directly or
  through another fixture): every such test is marked here, so ``-m "not servers"`` can
  never miss one.
- Hypothesis: the ``default`` profile is the full run (``make test``); ``quick``
  (``make check``: ``--hypothesis-profile=quick``) runs a tenth of the examples, through
  :func:`tests.examples.examples` for the tests that name their own count.
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from tests.examples import QUICK_EXAMPLES

settings.register_profile("quick", max_examples=QUICK_EXAMPLES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "testbed" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.servers)
