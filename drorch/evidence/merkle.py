"""The RFC 6962 (RFC 9162 section 2.1) Merkle tree over the evidence log's leaves.

Leaf hash SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right); the tree of n
leaves splits at the largest power of two below n. `Tree` answers roots, inclusion proofs
and consistency proofs in O(log n) after one O(n) build; `CompactTree` keeps only the
right edge so that appending stays O(log n); the two verifiers need nothing but a proof.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """Every complete subtree hash of a list of leaf hashes: levels[k][j] is the subtree
    of 2**k leaves starting at leaf j * 2**k."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self._edge: list[bytes] | None = None
        self.levels: list[list[bytes]] = [list(leaves)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append(
                [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            )

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def root(self, size: int | None = None) -> bytes:
        """The root of the first `size` leaves (all by default)."""
        size = self.size if size is None else size
        self._check_size(size)
        return EMPTY_ROOT if size == 0 else self._subtree(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """The audit path of leaf `index` in the tree of the first `size` leaves."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ValueError(f"leaf {index} is not in a tree of {size}")
        if size == self.size:
            return self._path_in_whole_tree(index)
        path: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = split_point(end - start)
            if index < start + k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start += k
        path.reverse()
        return path

    def _path_in_whole_tree(self, index: int) -> list[bytes]:
        """Bottom up: at each level the sibling is a complete subtree, or the right edge's
        node when it is the last one; a last node without a sibling moves up unchanged.
        This is the same tree as the RFC's split at powers of two."""
        edge = self._right_edge()
        path: list[bytes] = []
        level, last = 0, self.size - 1
        while last:
            if index & 1:
                path.append(self.levels[level][index - 1])
            elif index < last:
                sibling = index + 1
                nodes = self.levels[level]
                path.append(nodes[sibling] if sibling < len(nodes) else edge[level])
            index >>= 1
            last >>= 1
            level += 1
        return path

    def _right_edge(self) -> list[bytes]:
        """edge[k]: the hash of the last node on level k (complete or not), cached."""
        if self._edge is None:
            edge = [self.levels[0][-1]]
            last = self.size - 1
            for level in range(1, max(self.size - 1, 1).bit_length() + 1):
                if last & 1:  # the last node below has a left sibling: they join
                    edge.append(node_hash(self.levels[level - 1][last - 1], edge[-1]))
                else:  # it is alone: promoted
                    edge.append(edge[-1])
                last >>= 1
            self._edge = edge
        return self._edge

    def consistency_proof(self, old_size: int, size: int | None = None) -> list[bytes]:
        """The proof that the tree of old_size leaves is a prefix of the tree of size."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= old_size <= size:
            raise ValueError(f"no consistency proof from {old_size} to {size} leaves")
        if old_size in (0, size):
            return []
        path: list[bytes] = []
        start, end, m, whole = 0, size, old_size, True
        while m != end - start:
            k = split_point(end - start)
            if m <= k:
                path.append(self._subtree(start + k, end))
                end = start + k
            else:
                path.append(self._subtree(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            path.append(self._subtree(start, end))
        path.reverse()
        return path

    def _subtree(self, start: int, end: int) -> bytes:
        """MTH of leaves[start:end] for a range the RFC's recursion produces: O(log n)."""
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self.levels[n.bit_length() - 1][start // n]
        k = split_point(n)
        return node_hash(self._subtree(start, start + k), self._subtree(start + k, end))

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ValueError(f"the tree holds {self.size} leaves, not {size}")


class CompactTree:
    """The right edge of a tree: one complete subtree per bit of its size."""

    def __init__(self) -> None:
        self.size = 0
        self._edge: list[tuple[int, bytes]] = []  # (leaves in subtree, hash), largest first

    def append(self, leaf: bytes) -> None:
        self.size += 1
        self._edge.append((1, leaf))
        while len(self._edge) > 1 and self._edge[-1][0] == self._edge[-2][0]:
            (count, right), (_, left) = self._edge.pop(), self._edge.pop()
            self._edge.append((2 * count, node_hash(left, right)))

    def root(self) -> bytes:
        if not self._edge:
            return EMPTY_ROOT
        result = self._edge[-1][1]
        for _, left in reversed(self._edge[:-1]):
            result = node_hash(left, result)
        return result

    def copy(self) -> CompactTree:
        twin = CompactTree()
        twin.size, twin._edge = self.size, list(self._edge)
        return twin


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root an audit path leads to (RFC 9162 2.1.3.2), None when it is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, result = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, sibling)
        fn >>= 1
        sn >>= 1
    return result if sn == 0 else None


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> bool:
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(
    old_size: int, size: int, old_root: bytes, root: bytes, path: Sequence[bytes]
) -> bool:
    """Whether path proves the tree (old_size, old_root) a prefix of (size, root)
    (RFC 9162 2.1.4.2)."""
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not path and old_root == root
    if old_size == 0:
        return not path
    if not path:
        return False
    proof = list(path)
    if old_size & (old_size - 1) == 0:
        proof.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = proof[0]
    for node in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(node, first)
            second = node_hash(node, second)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            second = node_hash(second, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == old_root and second == root
