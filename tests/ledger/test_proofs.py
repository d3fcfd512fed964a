"""The fast inclusion-proof path and the node key layout, against the reference code in merkle.

Pure Python (runs with ``-p no:django`` too).
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from tongban.ledger import merkle, proofs
from tongban.ledger.proofs import node_key, node_level_index


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + i.to_bytes(8, "big")).digest() for i in range(n)]


def _stored(n: int, profile=merkle.SHA256) -> dict[int, bytes]:
    """Every perfect-subtree node of an n-leaf tree, by node key (what the database holds)."""
    result = merkle.CompactRange(profile=profile).append(_leaves(n))
    return {node_key(level, index): h for (level, index), h in result.nodes()}


def _check(index: int, size: int, stored: dict[int, bytes]) -> None:
    by_id = {node_level_index(key): h for key, h in stored.items()}
    expected = merkle.inclusion_proof(index, size, lambda ids: by_id)
    keys = proofs.inclusion_keys(index, size)
    assert proofs.assemble(keys, stored, merkle.SHA256) == expected, (index, size)
    assert stored[keys.leaf] == by_id[(0, index)]
    # The fast path asks for exactly the nodes the reference asks for, plus the leaf.
    assert sorted(keys.all()) == sorted({node_key(*n) for n in [(0, index), *merkle.inclusion_proof_node_ids(index, size)]})


def test_fast_inclusion_proofs_match_the_reference_for_every_small_tree():
    stored = _stored(130)
    for size in range(1, 131):
        for index in range(size):
            _check(index, size, stored)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=5000).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_fast_inclusion_proofs_match_the_reference_in_bigger_trees(case):
    index, size = case
    _check(index, size, _STORED_5000)


_STORED_5000 = _stored(5000)


def test_node_keys_are_an_in_order_walk():
    for level in range(12):
        for index in range(64):
            key = node_key(level, index)
            assert node_level_index(key) == (level, index)
            # Between the last leaf of its left half and the first leaf of its right half.
            if level:
                assert 2 * ((index << level) + (1 << (level - 1)) - 1) < key < 2 * ((index << level) + (1 << (level - 1)))
    assert len({node_key(level, index) for level in range(20) for index in range(200)}) == 4000
    assert node_key(0, 7) == 14 and node_key(1, 0) == 1 and node_key(3, 0) == 7
