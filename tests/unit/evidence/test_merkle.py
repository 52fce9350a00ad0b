"""RFC 6962 Merkle trees against the reference vectors of transparency-dev/merkle
(testonly/constants.go, testonly/reference_test.go, proof/verify_test.go), and against a
direct transcription of the RFC's recursive definitions for every size up to 20."""

from __future__ import annotations

import hashlib

import pytest

from drorch.evidence.merkle import (
    EMPTY_ROOT,
    CompactTree,
    Tree,
    leaf_hash,
    node_hash,
    root_from_inclusion,
    split_point,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# Root of the first n leaves, n = 0..8.
ROOTS = [
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

# Every complete subtree of the 8-leaf tree: LEVELS[k][j] covers leaves j*2**k ...
LEVELS = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

# (leaf index, tree size, audit path)
INCLUSION = [
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# (old size, new size, consistency proof)
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

TREE = Tree([leaf_hash(data) for data in LEAVES])


def hexes(nodes: list[bytes]) -> list[str]:
    return [node.hex() for node in nodes]


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert Tree([]).root() == EMPTY_ROOT
    assert CompactTree().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_reference_vectors(size: int) -> None:
    assert TREE.root(size).hex() == ROOTS[size]
    compact = CompactTree()
    for data in LEAVES[:size]:
        compact.append(leaf_hash(data))
    assert compact.root().hex() == ROOTS[size]


def test_every_complete_subtree_of_the_reference_tree() -> None:
    assert [hexes(level) for level in TREE.levels] == LEVELS


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_of_the_reference_vectors(index: int, size: int, path: list[str]) -> None:
    assert hexes(TREE.inclusion_proof(index, size)) == path
    leaf = leaf_hash(LEAVES[index])
    root = bytes.fromhex(ROOTS[size])
    proof = [bytes.fromhex(node) for node in path]
    assert verify_inclusion(index, size, leaf, proof, root)
    for wrong in corrupted_inclusions(index, size, leaf, proof, root):
        assert not verify_inclusion(*wrong)


@pytest.mark.parametrize(("old", "new", "path"), CONSISTENCY)
def test_consistency_proofs_of_the_reference_vectors(old: int, new: int, path: list[str]) -> None:
    assert hexes(TREE.consistency_proof(old, new)) == path
    old_root, new_root = bytes.fromhex(ROOTS[old]), bytes.fromhex(ROOTS[new])
    proof = [bytes.fromhex(node) for node in path]
    assert verify_consistency(old, new, old_root, new_root, proof)
    if proof:
        for wrong in corrupted_consistencies(old, new, old_root, new_root, proof):
            assert not verify_consistency(*wrong)


def test_degenerate_consistency_cases() -> None:
    some, other = hashlib.sha256(b"a").digest(), hashlib.sha256(b"b").digest()
    assert verify_consistency(0, 0, some, some, [])
    assert verify_consistency(0, 5, some, other, [])  # the empty tree is a prefix of all
    assert not verify_consistency(0, 5, some, other, [some])
    assert not verify_consistency(3, 3, some, other, [])
    assert not verify_consistency(3, 3, some, some, [some])
    assert not verify_consistency(4, 3, some, other, [some])  # back in time
    assert not verify_consistency(2, 5, some, other, [])


def test_inclusion_rejects_impossible_positions() -> None:
    leaf = leaf_hash(b"x")
    assert not verify_inclusion(0, 0, leaf, [], leaf)
    assert not verify_inclusion(1, 1, leaf, [], leaf)
    assert verify_inclusion(0, 1, leaf, [], leaf)
    assert root_from_inclusion(0, 1, leaf, [leaf]) is None  # a path too long


def test_split_point_is_the_largest_power_of_two_below() -> None:
    assert [split_point(n) for n in (2, 3, 4, 5, 7, 8, 9, 63, 28937)] == [
        1,
        2,
        2,
        4,
        4,
        4,
        8,
        32,
        16384,
    ]


# -- every size up to 20, against the RFC's own recursive definitions --------------------

LEAF_DATA = [f"record {i}".encode() for i in range(20)]
BIG = Tree([leaf_hash(data) for data in LEAF_DATA])


def mth(data: list[bytes]) -> bytes:
    if not data:
        return hashlib.sha256(b"").digest()
    if len(data) == 1:
        return leaf_hash(data[0])
    k = split_point(len(data))
    return node_hash(mth(data[:k]), mth(data[k:]))


def path_of(m: int, data: list[bytes]) -> list[bytes]:
    if len(data) == 1:
        return []
    k = split_point(len(data))
    if m < k:
        return [*path_of(m, data[:k]), mth(data[k:])]
    return [*path_of(m - k, data[k:]), mth(data[:k])]


def subproof(m: int, data: list[bytes], whole: bool) -> list[bytes]:
    n = len(data)
    if m == n:
        return [] if whole else [mth(data)]
    k = split_point(n)
    if m <= k:
        return [*subproof(m, data[:k], whole), mth(data[k:])]
    return [*subproof(m - k, data[k:], False), mth(data[:k])]


@pytest.mark.parametrize("size", range(1, 21))
def test_inclusion_proofs_for_every_leaf_of_every_size(size: int) -> None:
    root = BIG.root(size)
    assert root == mth(LEAF_DATA[:size])
    exact = Tree(BIG.levels[0][:size])  # proofs in a whole tree are computed bottom up
    assert exact.root() == root
    for index in range(size):
        proof = BIG.inclusion_proof(index, size)
        assert proof == path_of(index, LEAF_DATA[:size]) == exact.inclusion_proof(index)
        assert len(proof) <= (size - 1).bit_length()  # O(log n)
        leaf = leaf_hash(LEAF_DATA[index])
        assert verify_inclusion(index, size, leaf, proof, root)
        assert not verify_inclusion(index, size, leaf_hash(b"forged"), proof, root)
        if size > 1:
            assert not verify_inclusion((index + 1) % size, size, leaf, proof, root)


@pytest.mark.parametrize("size", range(1, 21))
def test_consistency_proofs_between_every_pair_of_sizes(size: int) -> None:
    for old in range(1, size + 1):
        proof = BIG.consistency_proof(old, size)
        assert proof == (subproof(old, LEAF_DATA[:size], True) if old < size else [])
        assert len(proof) <= 2 * size.bit_length()  # O(log n)
        assert verify_consistency(old, size, BIG.root(old), BIG.root(size), proof)
        forged = Tree([leaf_hash(b"forged"), *BIG.levels[0][1:size]])
        assert not verify_consistency(old, size, forged.root(old), BIG.root(size), proof)


def test_compact_tree_follows_every_size() -> None:
    compact = CompactTree()
    for size, data in enumerate(LEAF_DATA, 1):
        compact.append(leaf_hash(data))
        assert (compact.size, compact.root()) == (size, BIG.root(size))
    twin = compact.copy()
    twin.append(leaf_hash(b"more"))
    assert compact.size == 20 and twin.size == 21


def test_proof_arguments_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="leaf 8 is not in a tree of 8"):
        TREE.inclusion_proof(8)
    with pytest.raises(ValueError, match="holds 8 leaves, not 9"):
        TREE.root(9)
    with pytest.raises(ValueError, match="no consistency proof from 5 to 4"):
        TREE.consistency_proof(5, 4)


# -- corruptions, after proof/verify_test.go ------------------------------------------------


def corrupted_inclusions(
    index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes
) -> list[tuple[int, int, bytes, list[bytes], bytes]]:
    some = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")
    cases = [
        (index - 1, size, leaf, proof, root),
        (index + 1, size, leaf, proof, root),
        (index ^ 2, size, leaf, proof, root),
        (index, size * 2, leaf, proof, root),
        (index, size // 2, leaf, proof, root),
        (index, size, b"WrongLeaf", proof, root),
        (index, size, leaf, proof, EMPTY_ROOT),
        (index, size, leaf, proof, some),
        (index, size, leaf, [*proof, b""], root),
        (index, size, leaf, [*proof, root], root),
        (index, size, leaf, [b"", *proof], root),
        (index, size, leaf, [root, *proof], root),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 8]) + flipped[i][1:]
        cases.append((index, size, leaf, flipped, root))
    if proof:
        cases.append((index, size, leaf, proof[:-1], root))
    if len(proof) > 1:
        cases.append((index, size, leaf, [proof[0], some, *proof[1:]], root))
    return cases


def corrupted_consistencies(
    old: int, new: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> list[tuple[int, int, bytes, bytes, list[bytes]]]:
    cases = [
        (old - 1, new, old_root, new_root, proof),
        (old + 1, new, old_root, new_root, proof),
        (old ^ 2, new, old_root, new_root, proof),
        (old, new * 2, old_root, new_root, proof),
        (old, new // 2, old_root, new_root, proof),
        (old, new, b"WrongRoot", new_root, proof),
        (old, new, old_root, b"WrongRoot", proof),
        (old, new, new_root, old_root, proof),
        (old, new, old_root, new_root, []),
        (old, new, old_root, new_root, [*proof, b""]),
        (old, new, old_root, new_root, [*proof, old_root]),
        (old, new, old_root, new_root, [*proof, new_root]),
        (old, new, old_root, new_root, [b"", *proof]),
        (old, new, old_root, new_root, [old_root, *proof]),
        (old, new, old_root, new_root, [new_root, *proof]),
        (old, new, old_root, new_root, [proof[0], *proof]),
        (old, new, old_root, new_root, proof[:-1]),
    ]
    for i in range(len(proof)):
        flipped = list(proof)
        flipped[i] = bytes([flipped[i][0] ^ 16]) + flipped[i][1:]
        cases.append((old, new, old_root, new_root, flipped))
    return cases


@pytest.mark.parametrize("size", [1000, 1024, 1025, 1537])
def test_whole_tree_proofs_match_the_recursive_ones_at_larger_sizes(size: int) -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(size + 1)]
    whole, larger = Tree(leaves[:size]), Tree(leaves)
    for index in {0, 1, size // 2, size - 2, size - 1}:
        assert whole.inclusion_proof(index) == larger.inclusion_proof(index, size)
        assert verify_inclusion(
            index, size, leaves[index], whole.inclusion_proof(index), whole.root()
        )
