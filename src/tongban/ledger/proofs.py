"""How tree nodes are keyed in storage, and the inclusion-proof hot path over those keys.

``merkle.inclusion_proof`` is the reference (RFC 9162's recursive split, written for
clarity). Serving proofs at 10,000/s leaves ~100 µs per proof for Python and SQL together,
so this computes the same node set bottom-up with integer arithmetic, as
transparency-dev/merkle does: below the "fork" level every sibling is a stored perfect
subtree; at the fork, the right sibling may be an incomplete subtree, folded from its
stored perfect pieces; above it, the left siblings are the perfect subtrees covering the
prefix. Tests check it against ``merkle.inclusion_proof`` for every small tree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from tongban.ledger.merkle import HashProfile, node_hash


def node_key(level: int, index: int) -> int:
    """The single integer key of node ``(level, index)``: its position in an in-order walk.

    Leaf ``i`` is ``2i``; the node over leaves ``[j·2^l, (j+1)·2^l)`` is ``(2j+1)·2^l − 1``,
    between its two halves. Two reasons for one integer key in this order:

    * a new node of level ``l`` lands ``2^l`` keys below the newest leaf, and only one node in
      ``2^l`` is that high: inserts are nearly appends to the last B-tree pages, and the
      low levels of a proof (most of its nodes) sit on the same few pages as its leaf;
    * one key column lets a proof's nodes be fetched with a plain ``id IN (...)`` on both
      databases (SQLite's composite ``(level, idx) IN (VALUES ...)`` scans the whole table,
      LIMITS.md), and keeps SQLite's table clustered on its rowid.
    """
    return ((2 * index + 1) << level) - 1


def node_level_index(key: int) -> tuple[int, int]:
    """Inverse of ``node_key``: the level is the number of trailing one bits."""
    position = key + 1
    level = (position & -position).bit_length() - 1
    return level, position >> (level + 1)


class InclusionKeys(NamedTuple):
    leaf: int
    inner: list[int]  # path siblings below the fork, bottom-up
    right: list[int]  # perfect pieces of the fork's right sibling, largest first (folded into one hash)
    left: list[int]  # left siblings above the fork, bottom-up

    def all(self) -> list[int]:
        return [self.leaf, *self.inner, *self.right, *self.left]


def inclusion_keys(index: int, size: int) -> InclusionKeys:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")
    fork = (index ^ size).bit_length() - 1  # highest bit where index and size differ
    inner = [node_key(level, (index >> level) ^ 1) for level in range(fork)]
    begin = (index >> fork) << fork
    lo = begin + (1 << fork)
    right = []
    while lo < size:  # [end of the fork's subtree, size): aligned powers of two, largest first
        level = (size - lo).bit_length() - 1
        right.append(node_key(level, lo >> level))
        lo += 1 << level
    left = [node_key(level, (begin >> level) - 1) for level in range(fork + 1, begin.bit_length()) if begin >> level & 1]
    return InclusionKeys(node_key(0, index), inner, right, left)


def assemble(keys: InclusionKeys, found: Mapping[int, bytes], profile: HashProfile) -> list[bytes]:
    """The RFC 9162 inclusion path from the fetched nodes (``KeyError`` if one is missing)."""
    proof = [found[key] for key in keys.inner]
    if keys.right:
        acc = found[keys.right[-1]]
        for key in reversed(keys.right[:-1]):
            acc = node_hash(profile, found[key], acc)
        proof.append(acc)
    proof.extend(found[key] for key in keys.left)
    return proof
