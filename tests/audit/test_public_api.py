"""The audit package advertises exactly its public names, and every one resolves."""

from __future__ import annotations

import inspect

import domicile.audit as audit


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name in dir(audit)
        if not name.startswith("_") and not inspect.ismodule(getattr(audit, name))
    }
    assert public == set(audit.__all__)
    assert len(audit.__all__) == len(set(audit.__all__))
