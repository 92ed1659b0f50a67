"""RFC 9162 (Certificate Transparency v2.0) Merkle trees: hashes, roots, proofs.

The audit records are the leaves of one append-only Merkle tree, so that a checkpoint
(a signed tree size and root hash) commits to every record before it, an **inclusion
proof** shows that one record is in the tree without revealing the others, and a
**consistency proof** shows that a later tree only appended to an earlier one. The
hashing is exactly RFC 9162 section 2.1.1 (unchanged from RFC 6962)::

    MTH({})       = SHA-256()
    leaf hash     = SHA-256(0x00 || leaf bytes)
    node hash     = SHA-256(0x01 || left || right)
    MTH(D[n])     = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two < n

so any transparency-log tooling computes the same roots. Pure functions over bytes: the
leaves are given as their 32-byte *leaf hashes*, through a :class:`Leaves` view (a list, or
a lazy view over a catalog), and proofs are lists of 32-byte hashes.

:class:`CompactRange` folds leaf hashes one at a time in O(log n) memory: the way to
compute the root of a log of any length in one pass.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol

HASH_SIZE = 32
#: The root of the empty tree: SHA-256 of no bytes.
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The leaf hash of one entry: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Leaves(Protocol):
    """The leaf hashes of a tree, by index: what proofs are computed from."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int, /) -> bytes: ...


def subtree_root(leaves: Leaves, start: int, end: int) -> bytes:
    """MTH of ``leaves[start:end]`` (``end > start``), without copying the slice."""
    if end - start == 1:
        return leaves[start]
    range_ = CompactRange()
    for i in range(start, end):
        range_.append(leaves[i])
    return range_.root()


def root(leaves: Leaves | Sequence[bytes]) -> bytes:
    """MTH of all the leaf hashes."""
    if len(leaves) == 0:
        return EMPTY_ROOT
    return subtree_root(leaves, 0, len(leaves))


class CompactRange:
    """The root of a growing tree in O(log n) memory: append leaf hashes, ask for the root.

    It keeps the roots of the perfect subtrees the leaves so far decompose into (one per set
    bit of the size, largest first); the tree's root folds them from the right, which is
    exactly MTH's split at the largest power of two.
    """

    __slots__ = ("_size", "_stack")

    def __init__(self) -> None:
        self._size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights decreasing

    @property
    def size(self) -> int:
        return self._size

    def append(self, leaf: bytes) -> None:
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, not {len(leaf)}")
        height, node = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = node_hash(left, node)
            height += 1
        self._stack.append((height, node))
        self._size += 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = node_hash(left, node)
        return node


def inclusion_proof(leaves: Leaves, index: int, size: int | None = None) -> list[bytes]:
    """RFC 9162 2.1.3.1: the audit path of leaf ``index`` in the tree of the first ``size``
    leaves (default: all). ValueError unless ``0 <= index < size <= len(leaves)``."""
    n = len(leaves) if size is None else size
    if not 0 <= index < n <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {n} (of {len(leaves)} known)")
    proof: list[bytes] = []
    start, end, m = 0, n, index
    # Walk down from the root; each level's sibling subtree joins the path bottom-up.
    while end - start > 1:
        k = _split(end - start)
        if m < k:
            proof.append(subtree_root(leaves, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(leaves, start, start + k))
            start, m = start + k, m - k
    proof.reverse()
    return proof


def consistency_proof(leaves: Leaves, old_size: int, new_size: int | None = None) -> list[bytes]:
    """RFC 9162 2.1.4.1: the proof that the tree of ``new_size`` leaves (default: all)
    extends the tree of ``old_size``. Empty when the sizes are equal or ``old_size`` is 0
    (every tree extends the empty one). ValueError unless ``0 <= old <= new <= len``."""
    n = len(leaves) if new_size is None else new_size
    if not 0 <= old_size <= n <= len(leaves):
        raise ValueError(f"no consistency proof from {old_size} to {n} (of {len(leaves)})")
    if old_size in (0, n):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, n, old_size, True
    while True:
        if m == end - start:
            if not whole:
                proof.append(subtree_root(leaves, start, end))
            break
        k = _split(end - start)
        if m <= k:
            proof.append(subtree_root(leaves, start + k, end))
            end = start + k
        else:
            proof.append(subtree_root(leaves, start, start + k))
            start, m, whole = start + k, m - k, False
    proof.reverse()
    return proof


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn, sn = fn >> 1, sn >> 1
    return fn, sn


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """RFC 9162 2.1.3.2: the root that ``proof`` leads to from ``leaf`` at ``index``.
    ValueError when the proof cannot be one for that position (wrong length)."""
    if not 0 <= index < size:
        raise ValueError(f"no leaf {index} in a tree of {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ValueError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            fn, sn = _shift_while_even(fn, sn)
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ValueError("the inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """True when ``proof`` shows leaf hash ``leaf`` at ``index`` in the tree of ``size``
    whose root is ``expected_root``."""
    try:
        return root_from_inclusion(index, size, leaf, proof) == expected_root
    except ValueError:
        return False


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: True when ``proof`` shows that the tree (``new_size``,
    ``new_root``) extends (``old_size``, ``old_root``). Equal sizes need equal roots and an
    empty proof; size 0 is extended by every tree (empty proof)."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            fn, sn = _shift_while_even(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
