"""Policies with ``pq = true``: every blob of their buckets is wrapped to post-quantum
recipients only, and nothing is written when that cannot be done (fail closed)."""

from __future__ import annotations

from pathlib import Path

import pytest

import domicile
from domicile.crypto import MLKEM768X25519Identity, X25519Identity, parse_header
from domicile.engine.keys import add_identity
from domicile.errors import ConfigError, ObjectNotFound
from tests.engine.conftest import blob_files, make_deployment

PQ_POLICY = """
[policies.eu-pq]
allow = ["EU"]
copies = 2
pq = true
{recipients}

[buckets.secret]
policy = "eu-pq"
"""


def _deployment(root: Path, recipients: str = "") -> Path:
    return make_deployment(root, PQ_POLICY.format(recipients=recipients))


def _stanza_types(root: Path) -> dict[str, set[str]]:
    """Each blob file's stanza types, by file name."""
    out: dict[str, set[str]] = {}
    for site in ("fr", "de", "us"):
        for path in blob_files(root, site):
            header = parse_header(path.read_bytes(), complete=False)
            assert header is not None, path
            out[f"{site}/{path.name}"] = {s.type for s in header.stanzas}
    return out


def test_a_pq_policy_without_a_pq_identity_writes_nothing(tmp_path: Path) -> None:
    with domicile.open(_deployment(tmp_path)) as engine:
        with pytest.raises(ConfigError) as err:
            engine.put("secret", "plans.txt", b"harvest now, decrypt later")
        assert "requires post-quantum recipients" in err.value.message
        assert err.value.hint and "keys new --pq" in err.value.hint
        with pytest.raises(ObjectNotFound):
            engine.get("secret", "plans.txt")
        assert _stanza_types(tmp_path) == {}
        engine.put("docs", "other.txt", b"classic buckets are untouched")


def test_pq_buckets_get_pq_stanzas_only_and_classic_ones_classic(tmp_path: Path) -> None:
    with domicile.open(_deployment(tmp_path)) as engine:
        recipient = add_identity(engine, post_quantum=True)
        assert recipient.startswith("age1pq1")
        engine.put("docs", "a.txt", b"classic")
        classic = set(_stanza_types(tmp_path))
        engine.put("secret", "b.txt", b"post-quantum" * 50_000)
        assert engine.get("secret", "b.txt").read() == b"post-quantum" * 50_000
        assert engine.get("docs", "a.txt").read() == b"classic"
        types = _stanza_types(tmp_path)
    assert classic and all(types[name] == {"X25519"} for name in classic)
    pq_blobs = set(types) - classic
    assert pq_blobs and all(types[name] == {"mlkem768x25519"} for name in pq_blobs)


def test_a_pq_policy_extra_recipient_reads_the_blobs(tmp_path: Path) -> None:
    partner = MLKEM768X25519Identity.generate()
    path = _deployment(tmp_path, f'recipients = ["{partner.recipient}"]')
    with domicile.open(path) as engine:
        engine.context.keyring.add_new(post_quantum=True)
        engine.put("secret", "shared.txt", b"for the partner too")
        [key] = engine.context.catalog.bucket_keys("secret")  # the bucket's identity
        assert key.kind == "mlkem768x25519" and engine.context.bucket_keys is not None
        own = engine.context.bucket_keys.unwrap(key.wrapped)
    blobs = [p for s in ("fr", "de", "us") for p in blob_files(tmp_path, s)]
    assert blobs
    for blob in blobs:
        header = parse_header(blob.read_bytes(), complete=False)
        assert header is not None
        assert partner.unwrap(header.stanzas) is not None
        assert own.unwrap(header.stanzas) is not None
        assert X25519Identity.generate().unwrap(header.stanzas) is None


@pytest.mark.parametrize("pq", [True, False])
def test_a_recipient_of_the_wrong_kind_is_refused_at_open(tmp_path: Path, pq: bool) -> None:
    wrong = X25519Identity.generate() if pq else MLKEM768X25519Identity.generate()
    extra = f"""
[policies.mixed]
allow = ["EU"]
pq = {str(pq).lower()}
recipients = ["{wrong.recipient}"]
"""
    with pytest.raises(ConfigError) as err:
        domicile.open(make_deployment(tmp_path, extra))
    assert err.value.context["key"] == "policies.mixed.recipients"
    assert ("set pq = true" in (err.value.hint or "")) is not pq


def test_pq_must_be_a_boolean(tmp_path: Path) -> None:
    extra = '\n[policies.odd]\nallow = ["EU"]\npq = "yes"\n'
    with pytest.raises(ConfigError) as err:
        domicile.open(make_deployment(tmp_path, extra))
    assert "pq" in str(err.value.context.get("key", "")) or "pq" in err.value.message


def test_a_keyring_with_both_kinds_still_ships_the_audit_history(tmp_path: Path) -> None:
    """The audit history segments go to the classic identities only (one kind per file)."""
    path = _deployment(tmp_path)
    with domicile.open(path) as engine:
        add_identity(engine, post_quantum=True)
    for _ in range(2):  # reopened with both kinds in the keyring: history still encrypts
        with domicile.open(path) as engine:
            engine.put("secret", "a.txt", b"pq")
            engine.put("docs", "b.txt", b"classic")
            engine.audit.checkpoint()
    alogs = [p for s in ("fr", "de") for p in (tmp_path / "sites" / s).rglob("alog-*")]
    assert alogs
    for alog in alogs:
        header = parse_header(alog.read_bytes(), complete=False)
        assert header is not None and {s.type for s in header.stanzas} == {"X25519"}
