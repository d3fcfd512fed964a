"""Merkle core against independent oracles: pymerkle and a naive RFC 9162 transcription.

pymerkle (in-memory tree, sha256, "security" prefixes on) is an unrelated implementation;
the naive functions below follow the recursive definitions of RFC 9162 section 2.1
literally, with no shared code. pymerkle's *consistency* proofs use their own path layout
(not RFC 9162's), so for consistency the oracle is the RFC recursion with subtree hashes
read from pymerkle's tree.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pymerkle import InclusionProof, InmemoryTree
from pymerkle import verify_inclusion as pymerkle_verify_inclusion
from pymerkle.core import _inclusion_path_layout

from tongban.ledger import merkle as M
from tongban.ledger.merkle import SHA256, SM3, CompactRange, NodeId

MAX_SMALL = 1000
BIG_LEVELS = 20  # a 2**20-leaf virtual tree, enough for sizes up to 10**6


def entry(i: int) -> bytes:
    return i.to_bytes(8, "big")


def rfc_leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00" + entry(i)).digest()


def naive_mth(leaves: list[bytes], h=lambda b: hashlib.sha256(b).digest()) -> bytes:
    """RFC 9162 2.1.1, recursively (leaves are already leaf hashes)."""
    n = len(leaves)
    if n == 0:
        return h(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return h(b"\x01" + naive_mth(leaves[:k], h) + naive_mth(leaves[k:], h))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH(m, D_n)."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return naive_path(m, leaves[:k]) + [naive_mth(leaves[k:])]
    return naive_path(m - k, leaves[k:]) + [naive_mth(leaves[:k])]


def naive_subproof_ranges(m: int, lo: int, hi: int, b: bool) -> list[tuple[int, int]]:
    """RFC 9162 2.1.4.1 SUBPROOF(m, D[lo:hi], b), as the leaf ranges whose MTHs it lists."""
    n = hi - lo
    if m == n:
        return [] if b else [(lo, hi)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return naive_subproof_ranges(m, lo, lo + k, b) + [(lo + k, hi)]
    return naive_subproof_ranges(m - k, lo + k, hi, False) + [(lo, lo + k)]


class Store:
    """Node storage as the Django layer will keep it, with a fetch that counts calls."""

    def __init__(self) -> None:
        self.nodes: dict[NodeId, bytes] = {}
        self.calls = 0

    def add(self, result: M.AppendResult) -> None:
        for node, h in result.nodes():
            assert node not in self.nodes, f"node {node} emitted twice"
            self.nodes[node] = h

    def fetch(self, ids: list[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls += 1
        return {i: self.nodes[i] for i in ids if i in self.nodes}


@pytest.fixture(scope="module")
def small() -> tuple[list[bytes], InmemoryTree, Store, list[bytes]]:
    """1000 leaves in pymerkle, and in our store appended in random batches; our roots."""
    leaves = [rfc_leaf(i) for i in range(MAX_SMALL)]
    tree = InmemoryTree(algorithm="sha256")
    store, cr, roots = Store(), CompactRange(), [M.empty_root(SHA256)]
    rng = random.Random(9162)
    while cr.size < MAX_SMALL:
        batch = min(rng.choice([1, 1, 2, 3, 7, 16, 33]), MAX_SMALL - cr.size)
        for j in range(batch):
            tree.append_entry(entry(cr.size + j))
        result = cr.append(leaves[cr.size : cr.size + batch])
        store.add(result)
        # Roots at intermediate sizes come from the stored nodes (checked below).
        cr = result.compact_range
        roots.extend(M.root_at(s, store.fetch) for s in range(len(roots), cr.size + 1))
    return leaves, tree, store, roots


def test_pymerkle_is_configured_as_rfc9162() -> None:
    tree = InmemoryTree(algorithm="sha256")
    assert tree.security and tree.algorithm == "sha256"
    assert tree.hash_buff(b"abc") == hashlib.sha256(b"\x00abc").digest() == M.leaf_hash(SHA256, b"abc")
    left, right = rfc_leaf(1), rfc_leaf(2)
    assert tree.hash_pair(left, right) == hashlib.sha256(b"\x01" + left + right).digest()
    assert tree.hash_pair(left, right) == M.node_hash(SHA256, left, right)
    assert tree.get_root() == hashlib.sha256(b"").digest() == M.empty_root(SHA256)


def test_roots_for_every_size_up_to_1000(small) -> None:
    leaves, tree, _store, roots = small
    incremental = CompactRange()
    for n in range(MAX_SMALL + 1):
        expected = tree.get_root(n)
        assert M.root_from_leaves(leaves[:n]) == expected, n
        assert roots[n] == expected, n
        assert incremental.root() == expected, n
        if n < 300:  # naive recursion is quadratic-ish; pymerkle covers the rest
            assert naive_mth(leaves[:n]) == expected, n
        if n < MAX_SMALL:
            incremental = incremental.append([leaves[n]]).compact_range


def test_stored_nodes_are_exactly_the_perfect_subtrees(small) -> None:
    leaves, tree, store, _ = small
    expected = {}
    for level in range(10):
        width = 1 << level
        for index in range(MAX_SMALL // width):
            expected[(level, index)] = tree._get_root(index * width, (index + 1) * width)
    assert store.nodes == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=12), st.integers(0, 70))
def test_batching_does_not_change_anything(batches: list[int], start: int) -> None:
    leaves = [rfc_leaf(i) for i in range(start + sum(batches))]
    base = CompactRange().append(leaves[:start]).compact_range
    one_shot = base.append(leaves[start:])
    cr, emitted = base, []
    for b in batches:
        result = cr.append(leaves[cr.size : cr.size + b])
        emitted += result.nodes()
        cr = result.compact_range
    assert cr == one_shot.compact_range
    assert sorted(emitted) == sorted(one_shot.nodes())
    assert cr.root() == naive_mth(leaves)
    assert [h for (_, h) in one_shot.nodes(include_leaves=False)] == [
        h for (node, h) in one_shot.nodes() if node[0] > 0
    ]
    frontier = tuple(naive_mth(leaves[i << lv : (i + 1) << lv]) for lv, i in M.root_node_ids(cr.size))
    assert CompactRange(cr.size, frontier) == cr


def test_inclusion_proofs_all_indexes_up_to_64(small) -> None:
    leaves, tree, store, roots = small
    for size in range(1, 65):
        for index in range(size):
            store.calls = 0
            proof = M.inclusion_proof(index, size, store.fetch)
            assert store.calls == (1 if proof else 0)  # one query per proof, none when empty
            assert proof == naive_path(index, leaves[:size])
            pm = tree.prove_inclusion(index + 1, size)  # pymerkle counts from one
            assert pm.path[0] == leaves[index] and pm.path[1:] == proof
            assert M.verify_inclusion(SHA256, leaves[index], index, size, proof, roots[size])
            pymerkle_verify_inclusion(leaves[index], roots[size], pm, index=index + 1, size=size)
            ids = M.inclusion_proof_node_ids(index, size)
            assert all((i + 1) << level <= size for level, i in ids)  # only nodes that exist


def test_consistency_proofs_all_pairs_up_to_64(small) -> None:
    _leaves, tree, store, roots = small
    for n in range(1, 65):
        for m in range(0, n + 1):
            store.calls = 0
            proof = M.consistency_proof(m, n, store.fetch)
            expected = (
                [] if m == 0 else [tree._get_root(lo, hi) for lo, hi in naive_subproof_ranges(m, 0, n, True)]
            )
            assert proof == expected, (m, n)
            assert store.calls == (1 if proof else 0)
            assert M.verify_consistency(SHA256, m, n, proof, roots[m], roots[n]), (m, n)


def _tamper(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


def test_inclusion_negative_cases(small) -> None:
    leaves, _tree, store, roots = small
    for size in range(1, 40):
        for index in range(size):
            proof, leaf, root = M.inclusion_proof(index, size, store.fetch), leaves[index], roots[size]

            def ok(leaf=leaf, index=index, size=size, proof=proof, root=root) -> bool:
                return M.verify_inclusion(SHA256, leaf, index, size, proof, root)

            assert ok()
            for j in range(len(proof)):  # wrong sibling
                assert not ok(proof=[*proof[:j], _tamper(proof[j]), *proof[j + 1 :]])
            for other in (index - 1, index + 1, size, -1):  # wrong index
                assert not ok(index=other)
            for other in range(1, 42):  # wrong size, with that size's real root
                if other != size:
                    assert not ok(size=other, root=roots[other])
            if size > 1:  # swapped leaves, reordered or truncated path, extra hash
                assert not ok(leaf=leaves[index ^ 1 if index ^ 1 < size else index - 1])
                assert not ok(proof=proof[:-1]) and not ok(proof=[*proof, proof[0]])
                if len(proof) > 1:
                    assert not ok(proof=proof[::-1])
            assert not ok(root=_tamper(root)) and not ok(leaf=_tamper(leaf))
            assert not ok(proof=[*proof, b"short"]) and not ok(root=root[:-1])


def test_consistency_negative_cases(small) -> None:
    _leaves, _tree, store, roots = small
    for n in range(1, 40):
        for m in range(1, n):
            proof = M.consistency_proof(m, n, store.fetch)

            def ok(m=m, n=n, proof=proof, rm=roots[m], rn=roots[n]) -> bool:
                return M.verify_consistency(SHA256, m, n, proof, rm, rn)

            assert ok()
            for j in range(len(proof)):
                assert not ok(proof=[*proof[:j], _tamper(proof[j]), *proof[j + 1 :]])
                assert not ok(proof=proof[:j] + proof[j + 1 :])
            assert not ok(proof=[*proof, proof[0]]) and not ok(proof=[])
            assert not ok(rm=_tamper(roots[m])) and not ok(rn=_tamper(roots[n]))
            assert not ok(rm=roots[n], rn=roots[m])
            for other in (m - 1, m + 1):  # wrong old size, with that size's real root
                if 0 < other < n:
                    assert not ok(m=other, rm=roots[other])
            if n + 1 < len(roots):
                assert not ok(n=n + 1, rn=roots[n + 1])
            assert not ok(m=n, n=m, rm=roots[n], rn=roots[m])
    assert M.verify_consistency(SHA256, 5, 5, [], roots[5], roots[5])
    assert not M.verify_consistency(SHA256, 5, 5, [roots[5]], roots[5], roots[5])
    assert not M.verify_consistency(SHA256, 5, 5, [], roots[5], roots[6])
    assert M.verify_consistency(SHA256, 0, 9, [], roots[0], roots[9])
    assert not M.verify_consistency(SHA256, 0, 9, [], roots[1], roots[9])


def test_fetch_contract(small) -> None:
    _leaves, _tree, store, _roots = small
    with pytest.raises(ValueError):
        M.inclusion_proof(10, 10, store.fetch)
    with pytest.raises(ValueError):
        M.consistency_proof(11, 10, store.fetch)
    with pytest.raises(M.MissingNodeError):
        M.inclusion_proof(3, 10, lambda ids: {})
    # 7 = 4 + 2 + 1: the right-edge subtree [4, 7) comes from two perfect pieces.
    assert M.inclusion_proof_node_ids(0, 7) == [(0, 1), (1, 1), (1, 2), (0, 6)]
    assert M.consistency_proof_node_ids(3, 7) == [(0, 2), (0, 3), (1, 0), (1, 2), (0, 6)]
    assert M.root_node_ids(13) == [(3, 0), (2, 2), (0, 12)]
    assert M.consistency_proof_node_ids(7, 7) == M.consistency_proof_node_ids(0, 7) == []


# --- a 2**20-leaf virtual tree for random large (index, size) pairs ----------------------


@pytest.fixture(scope="module")
def big() -> list[list[bytes]]:
    leaves = [rfc_leaf(i) for i in range(1 << BIG_LEVELS)]
    result = CompactRange().append(leaves)
    levels = [hashes for (level, first, hashes) in result.runs]
    assert len(levels) == BIG_LEVELS + 1 and all(first == 0 for _, first, _ in result.runs)
    return levels


def big_fetch(levels: list[list[bytes]]) -> M.Fetch:
    return lambda ids: {(lv, i): levels[lv][i] for lv, i in ids}


def test_big_tree_root_matches_naive_recursion(big) -> None:
    size = 10**6
    assert M.root_at(size, big_fetch(big)) == naive_mth(big[0][:size])


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 10**6).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_big_inclusion(big, index_size: tuple[int, int]) -> None:
    index, size = index_size
    fetch = big_fetch(big)
    root, leaf = M.root_at(size, fetch), big[0][index]
    proof = M.inclusion_proof(index, size, fetch)
    assert M.verify_inclusion(SHA256, leaf, index, size, proof, root)
    rule, _ = _inclusion_path_layout(index + 1, size)
    pm = InclusionProof("sha256", True, size, index + 1, rule, [leaf, *proof])
    pymerkle_verify_inclusion(leaf, root, pm, index=index + 1, size=size)
    assert not M.verify_inclusion(SHA256, big[0][index ^ 1], index, size, proof, root)


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 10**6).flatmap(lambda n: st.tuples(st.integers(1, n - 1), st.just(n))))
def test_big_consistency(big, sizes: tuple[int, int]) -> None:
    m, n = sizes
    fetch = big_fetch(big)
    root_m, root_n = M.root_at(m, fetch), M.root_at(n, fetch)
    proof = M.consistency_proof(m, n, fetch)
    assert M.verify_consistency(SHA256, m, n, proof, root_m, root_n)
    assert not M.verify_consistency(SHA256, m, n, proof, root_n, root_m)
    assert len(proof) <= 2 * BIG_LEVELS


# --- SM3 profile ------------------------------------------------------------------------


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


def test_sm3_known_answer() -> None:
    # GB/T 32905-2016 example 1.
    assert SM3.hash(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    fallback = M.HashProfile("sm3", M._CryptographySM3, 32)  # used where OpenSSL lacks sm3
    assert fallback.hash(b"abc") == SM3.hash(b"abc")
    assert M.root_from_leaves([b"\x07" * 32] * 5, profile=fallback) == M.root_from_leaves(
        [b"\x07" * 32] * 5, profile=SM3
    )


def test_sm3_roots_match_naive() -> None:
    leaves = [sm3(b"\x00" + entry(i)) for i in range(40)]
    assert leaves[3] == M.leaf_hash(SM3, entry(3))
    cr = CompactRange(profile=SM3)
    for n in range(41):
        expected = naive_mth(leaves[:n], sm3)
        assert M.root_from_leaves(leaves[:n], profile=SM3) == expected == cr.root()
        assert expected != naive_mth([rfc_leaf(i) for i in range(n)])
        if n < 40:
            cr = cr.append([leaves[n]]).compact_range
    store = Store()
    store.add(CompactRange(profile=SM3).append(leaves))
    for index in range(40):
        proof = M.inclusion_proof(index, 40, store.fetch, profile=SM3)
        assert M.verify_inclusion(SM3, leaves[index], index, 40, proof, cr.root())
        assert not M.verify_inclusion(SHA256, leaves[index], index, 40, proof, cr.root())
    proof = M.consistency_proof(13, 40, store.fetch, profile=SM3)
    assert M.verify_consistency(SM3, 13, 40, proof, naive_mth(leaves[:13], sm3), cr.root())


def test_compact_range_validation() -> None:
    with pytest.raises(ValueError):
        CompactRange(3, (b"\x00" * 32,))
    with pytest.raises(ValueError):
        CompactRange(1, (b"\x00" * 31,))
    with pytest.raises(ValueError):
        CompactRange().append([b"short"])
    assert CompactRange().append([]).nodes() == []
    data = [b"a", b"bc", b""]
    assert CompactRange().append_data(data).root() == naive_mth([M.leaf_hash(SHA256, d) for d in data])
