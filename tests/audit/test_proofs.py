"""Offline proof bundles: records proved in a checkpoint and checkpoints proved consistent,
verified from the bundle and public keys alone; every forgery refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domicile.audit import Chain, Record
from domicile.audit.merkle import consistency_proof, inclusion_proof, root
from domicile.audit.note import Note, NoteSigner
from domicile.audit.proofs import (
    ProofError,
    consistency_bundle,
    inclusion_bundle,
    record_leaf,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)
from domicile.audit.tlog import Cosigner, TreeHead

ORIGIN = "domicile.test/eu-prod"


def records(n: int, bucket: str = "minutes") -> list[Record]:
    chain = Chain(clock=lambda: 1_700_000_000_000_000)
    return [
        chain.append(actor="cli:alice", action="put", bucket=bucket, key=f"k{i % 5}", sites=["s1"])
        for i in range(n)
    ]


class Log:
    def __init__(self, recs: list[Record]) -> None:
        self.records = recs
        self.leaves = [record_leaf(r) for r in recs]
        self.signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
        self.witnesses = [Cosigner(f"w.test/{i}", Ed25519PrivateKey.generate()) for i in range(3)]

    def checkpoint(self, size: int, cosigners: int = 3) -> Note:
        body = TreeHead(ORIGIN, size, root(self.leaves[:size])).body()
        sigs = [self.signer.sign(body)]
        sigs += [w.cosign(body, 1_700_000_000) for w in self.witnesses[:cosigners]]
        return Note(body, tuple(sigs))

    def prove(self, seqs: list[int], size: int) -> dict[str, Any]:
        entries = [(self.records[s - 1], inclusion_proof(self.leaves, s - 1, size)) for s in seqs]
        return inclusion_bundle(self.checkpoint(size), entries)

    def verify(self, bundle: dict[str, Any], quorum: int = 2) -> list[Record]:
        ws = [w.verifier() for w in self.witnesses]
        _, got = verify_inclusion_bundle(
            json.loads(json.dumps(bundle)), self.signer.verifier(), ws, quorum
        )
        return got


def test_records_are_proved_in_a_cosigned_checkpoint() -> None:
    log = Log(records(37))
    assert log.verify(log.prove([1, 5, 10, 37], 37)) == [log.records[i] for i in (0, 4, 9, 36)]
    assert log.verify(log.prove([3], 20)) == [log.records[2]]


def test_forged_inclusion_bundles_are_refused() -> None:
    log = Log(records(20))
    good = log.prove([4, 7], 20)
    changed = json.loads(json.dumps(good))
    changed["entries"][0]["record"]["key"] = "forged"
    with pytest.raises(ProofError, match="record 4 is not in the tree"):
        log.verify(changed)
    # A record moved to another seq (re-linked): another leaf, another position.
    moved = json.loads(json.dumps(good))
    moved["entries"][1]["proof"] = good["entries"][0]["proof"]
    with pytest.raises(ProofError, match="record 7"):
        log.verify(moved)
    # A checkpoint re-signed by someone else, or with too few witnesses.
    stranger = Log(log.records)
    with pytest.raises(ProofError, match="does not verify"):
        log.verify(stranger.prove([4], 20))
    with pytest.raises(ProofError, match="1 witness cosignature"):
        log.verify(
            inclusion_bundle(log.checkpoint(20, cosigners=1), []) | {"entries": good["entries"]}
        )
    # A checkpoint of another size than the proof was made for.
    swapped = json.loads(json.dumps(good))
    swapped["checkpoint"] = log.checkpoint(19).to_bytes().decode()
    with pytest.raises(ProofError):
        log.verify(swapped)
    for broken in [{**good, "format": "x"}, {**good, "entries": []},
                   {**good, "entries": [{"record": 1}]}]:  # fmt: skip
        with pytest.raises(ProofError):
            log.verify(broken)


def test_consistency_bundles_prove_growth_and_catch_a_fork() -> None:
    log = Log(records(30))
    ws = [w.verifier() for w in log.witnesses]
    for old, new in [(1, 30), (7, 8), (16, 30), (30, 30)]:
        bundle = consistency_bundle(
            log.checkpoint(old), log.checkpoint(new), consistency_proof(log.leaves, old, new)
        )
        a, b = verify_consistency_bundle(bundle, log.signer.verifier(), ws, 3)
        assert (a.head.size, b.head.size) == (old, new)
    # Two catalogs that diverge after record 10, both signed with the same audit key (the
    # split view a witness exists to catch): no proof joins them.
    fork = Log(log.records[:10] + records(20, bucket="other")[10:])
    fork.signer, fork.witnesses = log.signer, log.witnesses
    for proof in (consistency_proof(log.leaves, 15, 20), consistency_proof(fork.leaves, 15, 20)):
        with pytest.raises(ProofError, match="does not extend"):
            verify_consistency_bundle(
                consistency_bundle(log.checkpoint(15), fork.checkpoint(20), proof),
                log.signer.verifier(), ws, 3,
            )  # fmt: skip
