"""Checkpoints: the signed message pinned, signatures verified, forgeries refused."""

from __future__ import annotations

import base64
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domicile.audit import (
    CHECKPOINT_DOMAIN,
    AuditKey,
    Checkpoint,
    CheckpointPolicy,
    checkpoint_message,
    sign_checkpoint,
    verify_checkpoint,
)
from domicile.errors import AuditFormatError

from .conftest import T0

HEAD = "ab" * 32


def test_message_is_pinned() -> None:
    expected = (
        b"domicile-audit-checkpoint-v1\n"
        b'{"head":"' + HEAD.encode() + b'","seq":42,"time":1700000000000000}'
    )
    assert checkpoint_message(42, HEAD, T0) == expected
    assert expected.startswith(CHECKPOINT_DOMAIN)


def test_sign_and_verify(key: AuditKey) -> None:
    cp = sign_checkpoint(key, 42, HEAD, T0)
    assert (cp.seq, cp.head_hash, cp.time, cp.key_id) == (42, HEAD, T0, key.key_id)
    assert len(base64.b64decode(cp.signature)) == 64
    assert verify_checkpoint(key.public, cp)
    # Ed25519 is deterministic: the same head signs to the same bytes.
    assert sign_checkpoint(key.private, 42, HEAD, T0) == cp


@pytest.mark.parametrize(
    "forge",
    [
        lambda cp: replace(cp, seq=cp.seq + 1),
        lambda cp: replace(cp, head_hash="cd" * 32),
        lambda cp: replace(cp, time=cp.time + 1),
        lambda cp: replace(cp, signature=cp.signature[:-4] + "AAA="),
        lambda cp: replace(cp, signature="not base64!"),
        lambda cp: replace(cp, signature=""),
    ],
    ids=["seq", "head", "time", "signature-bits", "signature-garbage", "signature-empty"],
)
def test_altered_checkpoints_are_refused(key: AuditKey, forge) -> None:
    assert not verify_checkpoint(key.public, forge(sign_checkpoint(key, 42, HEAD, T0)))


def test_another_key_cannot_forge_even_claiming_our_id(key: AuditKey, other_key: AuditKey) -> None:
    forged = sign_checkpoint(other_key, 42, HEAD, T0)
    assert not verify_checkpoint(key.public, forged)
    assert not verify_checkpoint(key.public, replace(forged, key_id=key.key_id))


def test_a_signature_without_the_domain_prefix_is_refused(key: AuditKey) -> None:
    cp = sign_checkpoint(key, 42, HEAD, T0)
    bare = cp.message[len(CHECKPOINT_DOMAIN) :]
    signature = base64.b64encode(key.sign(bare)).decode()
    assert not verify_checkpoint(key.public, replace(cp, signature=signature))


def test_dict_round_trip(key: AuditKey) -> None:
    cp = sign_checkpoint(key, 7, HEAD, T0)
    assert Checkpoint.from_dict(cp.to_dict()) == cp
    assert cp.to_bytes().startswith(b'{"head":"')
    with pytest.raises(AuditFormatError, match="fields"):
        Checkpoint.from_dict({**cp.to_dict(), "extra": 1})


@pytest.mark.parametrize(
    "fields",
    [
        (0, HEAD, T0, "0" * 16, ""),
        (1, "xy", T0, "0" * 16, ""),
        (1, HEAD, 1.5, "0" * 16, ""),
        (1, HEAD, T0, "short", ""),
        (1, HEAD, T0, "0" * 16, None),
    ],
)
def test_malformed_checkpoints_are_refused(fields) -> None:
    with pytest.raises(AuditFormatError):
        Checkpoint(*fields)


def test_signing_refuses_a_bad_head() -> None:
    with pytest.raises(AuditFormatError):
        sign_checkpoint(Ed25519PrivateKey.generate(), 1, "not-a-hash", T0)


def test_policy_due(key: AuditKey) -> None:
    policy = CheckpointPolicy(every_records=10, every_seconds=60)
    assert not policy.due(0, T0, None)
    assert policy.due(1, T0, None)
    last = sign_checkpoint(key, 20, HEAD, T0)
    assert not policy.due(20, T0 + 10**9, last)  # nothing new since
    assert not policy.due(29, T0 + 59_999_999, last)
    assert policy.due(30, T0, last)  # ten records
    assert policy.due(21, T0 + 60_000_000, last)  # sixty seconds


@pytest.mark.parametrize(("records", "seconds"), [(0, 60), (10, 0)])
def test_policy_refuses_non_positive_intervals(records: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        CheckpointPolicy(records, seconds)
