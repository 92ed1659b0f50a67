"""Issue 8 item 1 through the engine: who acted (per call, per thread), keys created,
policy changes applied at open, copies verified."""

from __future__ import annotations

import contextvars
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import domicile
from domicile.audit import Record
from domicile.engine import keyring_add, set_site_status
from domicile.sites import LocalSite
from tests.engine.conftest import make_deployment, put_until_on

NL = """
[sites.nl]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/nl" }
"""


def _records(engine: domicile.Domicile, action: str | None = None) -> list[Record]:
    return [r for r in engine.audit.records() if action is None or r.action == action]


# --- the actor per call ------------------------------------------------------------------


def test_each_thread_records_its_own_actor(engine: domicile.Domicile) -> None:
    barrier = threading.Barrier(2)

    def work(actor: str) -> None:
        with engine.acting_as(actor):
            barrier.wait()  # both blocks are open at once
            for i in range(5):
                engine.put("docs", f"{actor}/{i}", b"x" * (i + 1))
                engine.delete("docs", f"{actor}/{i}")

    threads = [
        threading.Thread(target=work, args=(a,)) for a in ("tenant:AKIAALICE", "tenant:AKIABOB")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.put("docs", "after", b"y")
    mutations = [r for r in _records(engine) if r.action in ("put", "delete")]
    assert len(mutations) == 21
    for r in mutations:
        assert r.key is not None
        if "/" in r.key:
            assert r.actor == r.key.split("/")[0]
        else:
            assert r.actor.startswith("cli:")  # outside any block: the CLI user


def test_the_actor_follows_a_copied_context_onto_a_pool_thread(
    engine: domicile.Domicile,
) -> None:
    # The gateway runs each request with contextvars.copy_context().run on a pool thread.
    def request(actor: str, key: str) -> None:
        with engine.acting_as(actor):
            engine.put("docs", key, b"body")

    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, request, f"tenant:AK{i}", f"k{i}")
            for i in range(6)
        ]
        for f in futures:
            f.result()
        pool.submit(engine.put, "docs", "plain", b"body").result()
    by_key = {r.key: r.actor for r in _records(engine, "put")}
    assert by_key == {**{f"k{i}": f"tenant:AK{i}" for i in range(6)}, "plain": by_key["plain"]}
    assert by_key["plain"].startswith("cli:")


def test_acting_as_nests_and_restores(engine: domicile.Domicile) -> None:
    with engine.acting_as("tenant:OUTER"):
        with engine.acting_as("tenant:INNER"):
            engine.put("docs", "a", b"1")
        engine.put("docs", "b", b"2")
    engine.put("docs", "c", b"3")
    actors = {r.key: r.actor for r in _records(engine, "put")}
    assert actors["a"] == "tenant:INNER" and actors["b"] == "tenant:OUTER"
    assert actors["c"].startswith("cli:")
    with pytest.raises(ValueError, match="actor"):
        engine.acting_as("")


def test_apply_records_the_actor_from_its_pool_threads(tmp_path: Path) -> None:
    path = make_deployment(tmp_path, NL)
    LocalSite.create("nl", tmp_path / "sites" / "nl")
    with domicile.open(path) as engine:
        for i in range(4):
            engine.put("docs", f"k{i}", b"z" * 100)
        put_until_on(engine, "docs", [f"k{i}" for i in range(4)], "fr", lambda: b"z" * 100)
    set_site_status(path, "fr", "draining")
    with domicile.open(path) as engine:
        with engine.acting_as("cli:operator-on-call"):
            report = engine.apply(concurrency=3)
        assert report.added and report.removed
        moved = _records(engine, "placement_added") + _records(engine, "placement_removed")
    assert len(moved) == report.added + report.removed
    assert {r.actor for r in moved} == {"cli:operator-on-call"}


# --- keys created --------------------------------------------------------------------------


def test_the_first_open_records_the_keyring_and_keys_new_records_its_key(
    config_path: Path,
) -> None:
    with domicile.open(config_path) as engine:
        (initial,) = _records(engine, "key_created")
        assert initial.detail == {
            "recipient": str(engine.context.keyring.recipients[0]),
            "source": "keyring",
        }
    recipient = keyring_add(config_path)
    assert recipient.startswith("age1")
    with domicile.open(config_path) as engine:
        created = _records(engine, "key_created")
        assert [r.detail["recipient"] for r in created] == [initial.detail["recipient"], recipient]
        assert created[-1].detail["source"] == "keys_new"
        assert created[-1].actor.startswith("cli:")
        assert [str(r) for r in engine.context.keyring.recipients][-1] == recipient
        bodies = "".join(r.canonical.decode() for r in engine.audit.records())
    assert "AGE-SECRET-KEY" not in bodies.upper()  # the identity never enters the log


# --- policy changes applied ----------------------------------------------------------------


def _policy_records(path: Path) -> list[Record]:
    with domicile.open(path) as engine:
        return [r for r in _records(engine) if r.action.startswith("policy_")]


def test_a_policy_edit_is_recorded_once(config_path: Path) -> None:
    (added,) = _policy_records(config_path)
    assert added.action == "policy_added" and added.policy == "eu-only@1"
    assert json.loads(str(added.detail["rules"]))["copies"] == 2
    assert _policy_records(config_path) == [added]  # reopened unchanged: nothing new
    text = config_path.read_text()
    config_path.write_text(text.replace('allow = ["EU"]', 'allow = ["EU", "CH"]', 1))
    records = _policy_records(config_path)
    assert [r.action for r in records] == ["policy_added", "policy_change"]
    change = records[-1]
    assert change.policy == "eu-only@2"
    assert change.detail["from"] == added.detail["fingerprint"]
    assert change.detail["fingerprint"] != added.detail["fingerprint"]
    assert change.detail["changes"] == "allow +CH"
    assert _policy_records(config_path) == records  # and again: still one change


def test_reordering_a_list_is_no_change(config_path: Path) -> None:
    _policy_records(config_path)
    text = config_path.read_text().replace('allow = ["EU"]', 'allow = ["CH", "EU"]', 1)
    config_path.write_text(text)
    assert len(_policy_records(config_path)) == 2
    config_path.write_text(text.replace('allow = ["CH", "EU"]', 'allow = ["EU", "CH"]', 1))
    assert len(_policy_records(config_path)) == 2


def test_policies_added_and_removed(config_path: Path) -> None:
    _policy_records(config_path)
    extra = '\n[policies.de-only]\nallow = ["DE"]\ncopies = 1\n'
    config_path.write_text(config_path.read_text() + extra)
    assert [(r.action, r.policy) for r in _policy_records(config_path)][-1] == (
        "policy_added",
        "de-only@1",
    )
    config_path.write_text(config_path.read_text().replace(extra, ""))
    last = _policy_records(config_path)[-1]
    assert (last.action, last.policy) == ("policy_removed", "de-only@1")


def test_a_lost_cache_is_rebuilt_from_the_chain(config_path: Path, tmp_path: Path) -> None:
    config_path.write_text(config_path.read_text().replace("copies = 2", "copies = 1", 1))
    _policy_records(config_path)
    config_path.write_text(config_path.read_text().replace("copies = 1", "copies = 2", 1))
    records = _policy_records(config_path)
    assert records[-1].detail["changes"] == "copies 1->2"
    (cache,) = tmp_path.glob("*.policies.json")
    cache.unlink()
    assert _policy_records(config_path) == records  # rebuilt: no change, none recorded
    good = json.loads(cache.read_text())
    assert (good["seq"], good["hash"]) == (records[-1].seq, records[-1].hash)
    # A cache the catalog does not vouch for (another catalog, a restore) is rebuilt.
    cache.write_text(json.dumps({**good, "hash": "0" * 64, "policies": {}}))
    assert _policy_records(config_path) == records
    assert json.loads(cache.read_text()) == good


# --- the table of actions ------------------------------------------------------------------


def test_every_action_the_code_names_is_in_the_table_of_actions() -> None:
    root = Path(__file__).resolve().parents[2]
    table = (root / "docs" / "audit.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", table, flags=re.MULTILINE))
    pattern = re.compile(
        r'\b(?:record|record_event|builder)\(\s*"([a-z_]+)"|\breturn "([a-z_]+)", \{'
    )
    named = {
        m.group(1) or m.group(2)
        for source in (root / "src" / "domicile").rglob("*.py")
        for m in pattern.finditer(source.read_text("utf-8"))
    }
    assert {"key_created", "policy_change", "placement_verified"} <= named
    assert named - documented == set()


# --- placements verified -------------------------------------------------------------------


def test_full_and_deep_verify_record_each_copy_quick_records_none(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    for i in range(3):
        engine.put("docs", f"k{i}", b"v" * (100 + i))
    engine.verify("quick")
    assert _records(engine, "placement_verified") == []
    engine.verify("full")
    verified = _records(engine, "placement_verified")
    assert len(verified) == 6 and {r.detail["level"] for r in verified} == {"full"}
    copies = {(r.key, r.version, r.sites) for r in verified}
    expected = {
        (k, engine.head("docs", k).version_id, (c.site_id,))
        for k in ("k0", "k1", "k2")
        for c in engine.where("docs", k)
    }
    assert copies == expected
    # A corrupt copy gets placement_failed, never placement_verified.
    bad = engine.where("docs", "k0")[0].site_id
    version = engine.head("docs", "k0").version_id
    segment = engine.context.catalog.segments(version)[0].blob_id
    (blob,) = (p for p in (tmp_path / "sites" / bad).rglob(segment) if p.is_file())
    data = bytearray(blob.read_bytes())
    data[-1] ^= 1
    blob.write_bytes(bytes(data))
    engine.verify("deep")
    deep = [r for r in _records(engine, "placement_verified") if r.detail["level"] == "deep"]
    assert len(deep) == 5 and (version, (bad,)) not in {(r.version, r.sites) for r in deep}
    (failed,) = _records(engine, "placement_failed")
    assert (failed.version, failed.sites, failed.result) == (version, (bad,), "corrupt")
