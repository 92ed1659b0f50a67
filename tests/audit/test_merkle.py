"""RFC 9162 Merkle trees: the Certificate Transparency reference vectors, then every tree
shape against the recursive definition, and tampering of every kind refused."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.audit import merkle
from domicile.audit.merkle import (
    EMPTY_ROOT,
    CompactRange,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)
from tests.examples import examples

# The leaf inputs and tree heads of RFC 6962's reference test data (the same hashing as
# RFC 9162), as every CT implementation tests them.
CT_INPUTS = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]  # fmt: skip
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_LEAVES = [leaf_hash(d) for d in CT_INPUTS]
# (leaf index, tree size, audit path)
CT_INCLUSION = [
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip
# (old size, new size, proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]  # fmt: skip


def mth(leaves: list[bytes]) -> bytes:
    """MTH exactly as RFC 9162 writes it (recursive, slicing): the oracle."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """PATH(m, D[n]) as RFC 9162 2.1.3.1 writes it: the oracle."""
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) as RFC 9162 2.1.4.1 writes it: the oracle."""
    if m == len(leaves):
        return [] if whole else [mth(leaves)]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def test_reference_roots_for_every_size() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    for n in range(len(CT_LEAVES) + 1):
        assert root(CT_LEAVES[:n]).hex() == CT_ROOTS[n]
        compact = CompactRange()
        compact.extend(CT_LEAVES[:n])
        assert compact.root().hex() == CT_ROOTS[n]
        assert compact.size == n


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(CT_LEAVES, index, size)
    assert [p.hex() for p in proof] == expected
    good = bytes.fromhex(CT_ROOTS[size])
    assert verify_inclusion(index, size, CT_LEAVES[index], proof, good)
    assert not verify_inclusion(index, size, CT_LEAVES[index], proof, bytes.fromhex(CT_ROOTS[0]))
    other = CT_LEAVES[(index + 1) % size]
    assert not verify_inclusion(index, size, other, proof, good)


@pytest.mark.parametrize(("old", "new", "expected"), CT_CONSISTENCY)
def test_reference_consistency_proofs(old: int, new: int, expected: list[str]) -> None:
    proof = consistency_proof(CT_LEAVES, old, new)
    assert [p.hex() for p in proof] == expected
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    assert verify_consistency(old, new, old_root, new_root, proof)
    if old != new:
        assert not verify_consistency(old, new, new_root, new_root, proof)
        assert not verify_consistency(old, new, old_root, old_root, proof)


def leaves_of(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


@settings(max_examples=examples(60), deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_inclusion_matches_the_definition_and_verifies(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n)
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(leaves, index, size)
    assert proof == path(index, leaves[:size])
    head = mth(leaves[:size])
    assert root(leaves[:size]) == head
    assert verify_inclusion(index, size, leaves[index], proof, head)
    # Any change refuses: another index, another size, a flipped node, a dropped or extra node.
    if size > 1:
        assert not verify_inclusion((index + 1) % size, size, leaves[index], proof, head)
    # (The size is not checked by the path alone when the walk is the same — it is bound by
    # the signed checkpoint the root comes from.)
    if proof:
        flipped = [*proof]
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped[at] = bytes([flipped[at][0] ^ 1]) + flipped[at][1:]
        assert not verify_inclusion(index, size, leaves[index], flipped, head)
        assert not verify_inclusion(index, size, leaves[index], proof[:-1], head)
    assert not verify_inclusion(index, size, leaves[index], [*proof, head], head)


@settings(max_examples=examples(80), deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_consistency_matches_the_definition_and_verifies(n: int, data: st.DataObject) -> None:
    leaves = leaves_of(n, salt=1)
    new = data.draw(st.integers(1, n))
    old = data.draw(st.integers(0, new))
    proof = consistency_proof(leaves, old, new)
    if 0 < old < new:
        assert proof == subproof(old, leaves[:new], True)
    old_root, new_root = mth(leaves[:old]), mth(leaves[:new])
    assert verify_consistency(old, new, old_root, new_root, proof)
    if 0 < old < new:
        # A history rewritten before `old` (one leaf changed) is not consistent.
        forged = [*leaves]
        victim = data.draw(st.integers(0, old - 1))
        forged[victim] = leaf_hash(b"forged")
        assert not verify_consistency(old, new, old_root, mth(forged[:new]), proof)
        assert not verify_consistency(
            old, new, old_root, mth(forged[:new]), consistency_proof(forged, old, new)
        )
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
        assert not verify_consistency(old + 1, new, old_root, new_root, proof)
        assert not verify_consistency(new, old, new_root, old_root, proof)


def test_arguments_out_of_range_are_refused() -> None:
    leaves = leaves_of(4)
    with pytest.raises(ValueError, match="no leaf"):
        inclusion_proof(leaves, 4)
    with pytest.raises(ValueError, match="no leaf"):
        inclusion_proof(leaves, 0, 5)
    with pytest.raises(ValueError, match="no consistency proof"):
        consistency_proof(leaves, 3, 2)
    with pytest.raises(ValueError, match="32 bytes"):
        CompactRange().append(b"short")
    assert not verify_inclusion(0, 0, leaves[0], [], leaves[0])
    assert verify_consistency(0, 4, EMPTY_ROOT, mth(leaves), [])
    assert not verify_consistency(0, 4, EMPTY_ROOT, mth(leaves), [leaves[0]])
    assert not verify_consistency(4, 4, mth(leaves), mth(leaves_of(4, 9)), [])


def test_compact_range_memory_is_logarithmic() -> None:
    compact = CompactRange()
    compact.extend(leaves_of(1000))
    assert len(compact._stack) == bin(1000).count("1")
    assert compact.root() == merkle.root(leaves_of(1000))


@settings(max_examples=examples(80), deadline=None)
@given(n=st.integers(1, 70), data=st.data())
def test_extension_proofs_need_only_the_old_range_and_new_leaves(
    n: int, data: st.DataObject
) -> None:
    leaves = leaves_of(n, salt=2)
    old = data.draw(st.integers(0, n))
    compact = CompactRange()
    compact.extend(leaves[:old])
    restored = CompactRange.restore(old, compact.nodes)
    assert restored.root() == mth(leaves[:old]) and restored.size == old
    proof = merkle.extension_proof(restored, leaves[old:])
    assert proof == consistency_proof(leaves, old, n)
    assert verify_consistency(old, n, mth(leaves[:old]), mth(leaves), proof)
    restored.extend(leaves[old:])
    assert restored.root() == mth(leaves)


def test_restoring_a_range_checks_its_shape() -> None:
    compact = CompactRange()
    compact.extend(leaves_of(11))
    assert len(compact.nodes) == 3  # 8 + 2 + 1
    with pytest.raises(ValueError, match="cannot tile"):
        CompactRange.restore(11, compact.nodes[:2])
    with pytest.raises(ValueError, match="cannot tile"):
        CompactRange.restore(12, compact.nodes)
    with pytest.raises(ValueError, match="cannot tile"):
        CompactRange.restore(11, [b"x", *compact.nodes[1:]])
    assert [(s, e) for s, e, _ in compact.blocks()] == [(0, 8), (8, 10), (10, 11)]
