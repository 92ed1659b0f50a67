"""The public API is what ``domicile.__all__`` says, and every name in it exists."""

from __future__ import annotations

import domicile


def test_all_names_exist() -> None:
    for name in domicile.__all__:
        assert hasattr(domicile, name), name


def test_open_is_the_entry_point() -> None:
    assert callable(domicile.open)
    assert domicile.Domicile.__module__ == "domicile.engine.api"
