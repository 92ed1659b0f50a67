"""How many examples a Hypothesis test runs: its own count in the full run, scaled down
under the ``quick`` profile (``make check``)."""

from __future__ import annotations

from hypothesis import settings

#: Hypothesis's own default count, the full run's profile.
FULL_EXAMPLES = 100
#: The quick profile's count: a tenth.
QUICK_EXAMPLES = 10


def examples(n: int) -> int:
    """``n`` in the full run; a tenth of it (at least 3) under the quick profile. Read when
    the test module is imported, after pytest loaded the profile."""
    return max(3, n * settings.default.max_examples // FULL_EXAMPLES)
