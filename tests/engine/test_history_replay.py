"""The replay of audit records alone (no deployment): copies placed, replaced, moved and
deleted; definitions changing under them; and what the chain does not define is refused."""

from __future__ import annotations

import json
from typing import Any

from domicile.engine.deflog import canonical, fingerprint
from domicile.engine.facts.judge import POLICY_NOT_RECORDED, SITE_NOT_RECORDED, Judge
from domicile.engine.facts.replay import Replay
from domicile.policy import load_registry

EU_ONLY = {
    "allow": ["EU"],
    "deny": [],
    "deny_subject_to": ["CN"],
    "copies": 1,
    "distinct": "provider",
    "recipients": [],
    "audit_reads": False,
    "require": [],
}


def site(country: str, operator: str = "op", chain: tuple[str, ...] = ()) -> dict[str, Any]:
    links = [f"{operator} ({country})", *chain]
    return {
        "country": country,
        "operator": operator,
        "operator_chain": links,
        "subject_to": sorted({link[-3:-1] for link in links}),
        "provider": "p",
        "template": None,
        "status": "active",
        "backend": {},
    }


class Chain:
    """Record bodies at whole seconds (``time`` in microseconds)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.versions: dict[str, int] = {}

    def add(self, t: int, action: str, **fields: Any) -> None:
        body = {"time": t * 1_000_000, "action": action, "result": "ok", "sites": []}
        self.bodies.append(body | fields)

    def site(self, t: int, sid: str, definition: dict[str, Any]) -> None:
        version = self.versions[sid] = self.versions.get(sid, 0) + 1
        detail = {"site": sid, "version": version, "fingerprint": fingerprint(definition)}
        detail["after"] = canonical(definition)
        self.add(t, "site_added" if version == 1 else "site_change", sites=[sid], detail=detail)

    def policy(self, t: int, name: str, rules: dict[str, Any]) -> None:
        version = self.versions[name] = self.versions.get(name, 0) + 1
        detail = {"name": name, "version": version, "fingerprint": fingerprint(rules)}
        detail["rules"] = canonical(rules)
        self.add(t, "policy_added" if version == 1 else "policy_change", detail=detail)

    def replay(self, start: float, end: float, bucket: str | None = None) -> Replay:
        r = Replay(start, end, Judge(load_registry(), {}), lambda b, _t: bucket in (None, b))
        for body in json.loads(json.dumps(self.bodies)):
            r.feed(body)
        return r


def test_replaced_deleted_and_moved_copies_bound_the_window() -> None:
    c = Chain()
    c.policy(1, "eu", EU_ONLY)
    c.site(1, "a", site("DE"))
    c.site(1, "b", site("FR"))
    c.add(2, "bucket_create", bucket="docs", policy="eu", detail={"tenant": "t"})
    c.add(10, "put", bucket="docs", key="x", version="v1", sites=["a"])
    c.add(11, "put", bucket="docs", key="y", version="w1", sites=["a"])
    c.site(20, "a", site("CN", "cn-op"))  # a handover: a is refused from 20 on
    c.add(25, "put", bucket="docs", key="x", version="v2", sites=["b"])  # v1 ends at 25
    c.add(30, "placement_added", bucket="docs", key="y", version="w1", sites=["b"])
    c.add(31, "placement_removed", bucket="docs", key="y", version="w1", sites=["a"])
    c.add(40, "delete", bucket="docs", key="x", version="v2")
    r = c.replay(0, 100)
    _, _, residences = r.finish()
    (window,) = r.windows
    assert (window.site.id, window.start, window.end, window.ongoing) == ("a", 20, 31, False)
    assert set(window.codes) == {"country_not_allowed", "subject_to"}
    assert [(w.key, w.version_id, w.start, w.end) for w in window.copies] == [
        ("x", "v1", 20, 25),
        ("y", "w1", 20, 31),
    ]
    assert [
        (x.site.id, x.site.country, x.start, x.end, x.copies, x.allowed) for x in residences
    ] == [
        ("a", "DE", 10, 20, 2, True),
        ("a", "CN", 20, 31, 2, False),
        ("b", "FR", 25, 100, 2, True),
    ]
    assert (r.copies, r.versions) == (4, 3)
    # A period that ends before the handover: no window; one after it: none either.
    assert not c.replay(0, 19.5).windows and not c.replay(32, 100).windows


def test_a_policy_change_and_a_status_change_split_the_spans() -> None:
    c = Chain()
    c.policy(1, "eu", EU_ONLY)
    c.site(1, "a", site("FR"))
    c.add(2, "bucket_create", bucket="docs", policy="eu", detail={"tenant": "t"})
    c.add(3, "put", bucket="docs", key="x", version="v1", sites=["a"])
    c.add(5, "site_status", sites=["a"], detail={"from": "active", "to": "draining"})
    c.policy(8, "eu", EU_ONLY | {"deny": ["FR"]})
    c.policy(12, "eu", EU_ONLY)  # withdrawn again
    r = c.replay(0, 20)
    _, policies, residences = r.finish()
    (window,) = r.windows
    assert (window.start, window.end, window.codes) == (8, 12, ("country_denied",))
    assert window.site.status == "draining" and window.policy.version == 2
    assert [(x.site.status, x.policy.version, x.allowed, x.start, x.end) for x in residences] == [
        ("active", 1, True, 3, 5),
        ("draining", 1, True, 5, 8),  # draining is not a violation
        ("draining", 2, False, 8, 12),
        ("draining", 3, True, 12, 20),
    ]
    assert [(p.version, p.start, p.end) for p in policies] == [(1, 1, 8), (2, 8, 12), (3, 12, None)]


def test_what_the_chain_does_not_define_is_refused() -> None:
    c = Chain()
    c.add(2, "bucket_create", bucket="docs", policy="eu", detail={"tenant": "t"})
    c.add(3, "put", bucket="docs", key="x", version="v1", sites=["a"])
    c.policy(5, "eu", EU_ONLY)
    c.add(6, "put", bucket="other", key="x", version="o1", sites=["a"])  # no such bucket
    c.site(7, "a", site("DE"))
    c.add(9, "bucket_delete", bucket="docs")
    r = c.replay(0, 10)
    first, second = r.windows
    assert (first.start, first.end, first.codes) == (3, 5, (POLICY_NOT_RECORDED,))
    assert (second.start, second.end, second.codes) == (5, 7, (SITE_NOT_RECORDED,))
    buckets, _, residences = r.finish()
    assert residences[-1].allowed and residences[-1].end == 9  # ended by the bucket's deletion
    assert [b.bucket for b in buckets] == ["docs"]
    assert not c.replay(0, 10, bucket="other").windows
