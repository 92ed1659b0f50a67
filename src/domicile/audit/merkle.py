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
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

#: ``subtree(start, end)``: MTH of leaves ``[start, end)``, however the caller knows it.
Subtree = Callable[[int, int], bytes]

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

    @classmethod
    def of(cls, leaves: Iterable[bytes]) -> CompactRange:
        """The range of ``leaves``."""
        made = cls()
        made.extend(leaves)
        return made

    def root(self) -> bytes:
        return _fold([h for _, h in self._stack])

    @property
    def nodes(self) -> list[bytes]:
        """The roots of the perfect subtrees tiling ``[0, size)``, largest (leftmost) first:
        with the size, all it takes to extend the tree (store them beside a checkpoint)."""
        return [h for _, h in self._stack]

    @classmethod
    def restore(cls, size: int, nodes: Sequence[bytes]) -> CompactRange:
        """The range of ``size`` leaves from its :attr:`nodes`; ValueError when they cannot
        be one (count is not the number of set bits of ``size``, or a node is no hash).
        Check the result's :meth:`root` against a signed one before trusting it."""
        heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
        if size < 0 or len(nodes) != len(heights) or any(len(n) != HASH_SIZE for n in nodes):
            raise ValueError(f"{len(nodes)} nodes cannot tile a tree of {size} leaves")
        made = cls()
        made._size = size
        made._stack = list(zip(heights, nodes, strict=True))
        return made

    def blocks(self) -> Iterator[tuple[int, int, bytes]]:
        """``(start, end, hash)`` of each perfect subtree tiling ``[0, size)``, in order."""
        start = 0
        for height, node in self._stack:
            yield start, start + (1 << height), node
            start += 1 << height


def _fold(nodes: Sequence[bytes]) -> bytes:
    """The root over perfect subtrees given left to right, each larger than the next."""
    if not nodes:
        return EMPTY_ROOT
    node = nodes[-1]
    for left in reversed(nodes[:-1]):
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
    return _consistency(old_size, n, lambda s, e: subtree_root(leaves, s, e))


def extension_proof(old: CompactRange, new_leaves: Sequence[bytes]) -> list[bytes]:
    """The consistency proof from ``old``'s tree to it extended by ``new_leaves``, from the
    old tree's :attr:`CompactRange.nodes` and the new leaves alone (every node of such a
    proof left of the old size is one of those subtrees, or a fold of the last of them):
    what a log that stored its range with each checkpoint needs, without reading its past."""
    m = old.size
    blocks = list(old.blocks())

    def subtree(start: int, end: int) -> bytes:
        if start >= m:
            return subtree_root(new_leaves, start - m, end - m)
        tiling = [h for s, e, h in blocks if start <= s and e <= end]
        covered = sum(e - s for s, e, _ in blocks if start <= s and e <= end)
        if end > m or covered != end - start:  # never asked by RFC 9162's PROOF
            raise AssertionError(f"[{start}, {end}) is not a union of the old tree's subtrees")
        return _fold(tiling)

    return _consistency(m, m + len(new_leaves), subtree)


def _consistency(old_size: int, n: int, subtree: Subtree) -> list[bytes]:
    if old_size in (0, n):
        return []
    proof: list[bytes] = []
    start, end, m, whole = 0, n, old_size, True
    while True:
        if m == end - start:
            if not whole:
                proof.append(subtree(start, end))
            break
        k = _split(end - start)
        if m <= k:
            proof.append(subtree(start + k, end))
            end = start + k
        else:
            proof.append(subtree(start, start + k))
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
