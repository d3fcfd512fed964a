"""RFC 9162 Merkle tree hashing, proofs and incremental appends.

Storage model ("perfect subtrees"): a stored node is ``(level, index)``, the root of the
perfect subtree over leaves ``[index * 2**level, (index + 1) * 2**level)``. Level 0 nodes
are the leaf hashes themselves. Such a node is written once, when its last leaf arrives,
and never changes afterwards (the log is append-only), so nodes can be cached forever.

A tree of size ``n`` is not perfect in general: RFC 9162 subtrees on its right edge cover
``[lo, n)``. Their hashes are never stored; proofs ask for the perfect pieces of such a
range (one per set bit of its width, largest first) and fold them back together. That is
why the ``*_node_ids`` functions may return more ids than the proof has hashes, and why a
whole proof can be served from one ``WHERE (level, index) IN (...)`` query.

Verification (``verify_inclusion``/``verify_consistency``) follows RFC 9162 sections
2.1.3.2 and 2.1.4.2 step by step and shares no code with proof generation, so a bug in
one is not silently mirrored in the other.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from hmac import compare_digest
from itertools import repeat
from typing import Protocol, Self

NodeId = tuple[int, int]
"""``(level, index)`` of a perfect subtree root; see the module docstring."""

Fetch = Callable[[list[NodeId]], Mapping[NodeId, bytes]]
"""Returns the stored hash of every requested node (called once per proof)."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def copy(self) -> Self: ...


class MissingNodeError(LookupError):
    """The fetch callback did not return a node a proof needs (storage is incomplete)."""


@dataclass(frozen=True)
class HashProfile:
    """A hash function for the tree. ``new()`` returns a fresh hashlib-style object."""

    name: str
    new: Callable[[], _Hasher] = field(repr=False)
    digest_size: int

    def hash(self, data: bytes) -> bytes:
        h = self.new()
        h.update(data)
        return h.digest()


class _CryptographySM3:
    """hashlib-style adapter for ``cryptography``'s SM3, for OpenSSL builds without sm3."""

    __slots__ = ("_ctx",)

    def __init__(self, ctx: object | None = None) -> None:
        from cryptography.hazmat.primitives import hashes

        self._ctx = ctx if ctx is not None else hashes.Hash(hashes.SM3())

    def update(self, data: bytes, /) -> None:
        self._ctx.update(data)  # type: ignore[attr-defined]

    def digest(self) -> bytes:
        return self._ctx.copy().finalize()  # type: ignore[attr-defined,no-any-return]

    def copy(self) -> _CryptographySM3:
        return _CryptographySM3(self._ctx.copy())  # type: ignore[attr-defined]


def _sm3_factory() -> Callable[[], _Hasher]:
    try:
        hashlib.new("sm3")
    except ValueError:  # OpenSSL built without SM3 (e.g. some FIPS builds)
        return _CryptographySM3
    return functools.partial(hashlib.new, "sm3")


SHA256 = HashProfile("sha256", hashlib.sha256, 32)
SM3 = HashProfile("sm3", _sm3_factory(), 32)
PROFILES: dict[str, HashProfile] = {p.name: p for p in (SHA256, SM3)}


def leaf_hash(profile: HashProfile, data: bytes) -> bytes:
    """RFC 9162 leaf hash: ``H(0x00 || data)``."""
    return profile.hash(_LEAF_PREFIX + data)


def node_hash(profile: HashProfile, left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: ``H(0x01 || left || right)``."""
    return profile.hash(_NODE_PREFIX + left + right)


def empty_root(profile: HashProfile) -> bytes:
    """Root of the empty tree: ``H("")`` (no prefix, per RFC 9162)."""
    return profile.hash(b"")


def root_from_leaves(hashes: Sequence[bytes], *, profile: HashProfile = SHA256) -> bytes:
    """MTH over leaf hashes, computed level by level.

    Pairing neighbours and promoting an unpaired last node unchanged yields exactly the
    RFC 9162 split at the largest power of two below ``n``, without recursion.
    """
    if not hashes:
        return empty_root(profile)
    level = list(hashes)
    seeded = profile.new()
    seeded.update(_NODE_PREFIX)
    while len(level) > 1:
        nxt = _pair_up(seeded, level)
        if len(level) & 1:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def _pair_up(seeded: _Hasher, seq: list[bytes]) -> list[bytes]:
    """Hashes seq[0]|seq[1], seq[2]|seq[3], ...; an odd last element is dropped.

    Copying a hasher already fed the 0x01 prefix is the fastest pure-Python way we
    measured (about 25% faster than hashing ``b"\\x01" + l + r``).
    """
    out = []
    append = out.append
    it = iter(seq)
    for left, right in zip(it, it, strict=False):
        h = seeded.copy()
        h.update(left)
        h.update(right)
        append(h.digest())
    return out


# --- proof layout (which subtrees a proof consists of) -------------------------------


def _split(width: int) -> int:
    """Largest power of two strictly smaller than ``width`` (``width >= 2``)."""
    return 1 << ((width - 1).bit_length() - 1)


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges of RFC 9162 PATH(index, D[0:size]), leaf sibling first."""
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def _consistency_ranges(m: int, n: int) -> list[tuple[int, int]]:
    """Leaf ranges of RFC 9162 PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true), in order."""
    ranges = []
    lo, hi, whole_old_tree = 0, n, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            m -= k
            lo += k
            whole_old_tree = False
    if not whole_old_tree:
        # The verifier cannot know this subtree hash from root_m alone, so it is sent.
        ranges.append((lo, hi))
    ranges.reverse()
    return ranges


def range_node_ids(lo: int, hi: int) -> list[NodeId]:
    """Perfect subtrees covering the RFC 9162 subtree ``[lo, hi)``, largest first."""
    ids = []
    while lo < hi:
        level = (hi - lo).bit_length() - 1
        if lo & ((1 << level) - 1):
            raise ValueError(f"[{lo}, {hi}) is not a subtree of an RFC 9162 tree")
        ids.append((level, lo >> level))
        lo += 1 << level
    return ids


def _ids_for(ranges: Iterable[tuple[int, int]]) -> list[list[NodeId]]:
    return [range_node_ids(lo, hi) for lo, hi in ranges]


def _resolve(groups: list[list[NodeId]], fetch: Fetch, profile: HashProfile) -> list[bytes]:
    wanted = [node for group in groups for node in group]
    if not wanted:
        return []
    found = fetch(wanted)
    result = []
    for group in groups:
        try:
            hashes = [found[node] for node in group]
        except KeyError as exc:
            raise MissingNodeError(f"node (level, index)={exc.args[0]} was not returned") from None
        acc = hashes[-1]
        # Fold right to left: MTH of a right-edge range is node(first, MTH(rest)).
        for h in reversed(hashes[:-1]):
            acc = node_hash(profile, h, acc)
        result.append(acc)
    return result


def _check_index(index: int, size: int) -> None:
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} out of range for tree size {size}")


def _check_sizes(m: int, n: int) -> None:
    if not 0 <= m <= n:
        raise ValueError(f"need 0 <= m <= n, got m={m} n={n}")


def inclusion_proof_node_ids(index: int, size: int) -> list[NodeId]:
    """Every stored node needed to build the inclusion proof for leaf ``index``."""
    _check_index(index, size)
    return [node for group in _ids_for(_inclusion_ranges(index, size)) for node in group]


def inclusion_proof(index: int, size: int, fetch: Fetch, *, profile: HashProfile = SHA256) -> list[bytes]:
    """RFC 9162 inclusion path (leaf's sibling first), with one call to ``fetch``."""
    _check_index(index, size)
    return _resolve(_ids_for(_inclusion_ranges(index, size)), fetch, profile)


def consistency_proof_node_ids(m: int, n: int) -> list[NodeId]:
    """Every stored node needed to build the consistency proof from size m to size n."""
    _check_sizes(m, n)
    if m in (0, n):
        return []
    return [node for group in _ids_for(_consistency_ranges(m, n)) for node in group]


def consistency_proof(m: int, n: int, fetch: Fetch, *, profile: HashProfile = SHA256) -> list[bytes]:
    """RFC 9162 consistency proof between sizes m and n (empty when m is 0 or m == n)."""
    _check_sizes(m, n)
    if m in (0, n):
        return []
    return _resolve(_ids_for(_consistency_ranges(m, n)), fetch, profile)


def root_node_ids(size: int) -> list[NodeId]:
    """Perfect subtrees whose fold is the root at ``size``: the compact range's frontier."""
    return [
        (level, (size >> level) - 1) for level in range(size.bit_length() - 1, -1, -1) if size >> level & 1
    ]


def root_at(size: int, fetch: Fetch, *, profile: HashProfile = SHA256) -> bytes:
    """Root of the tree at any past ``size`` from stored nodes (for audits and checkpoints)."""
    if size == 0:
        return empty_root(profile)
    return _resolve([root_node_ids(size)], fetch, profile)[0]


# --- verification: RFC 9162 2.1.3.2 and 2.1.4.2, written independently of the above ---


def _well_formed(profile: HashProfile, hashes: Iterable[object]) -> bool:
    return all(isinstance(h, bytes) and len(h) == profile.digest_size for h in hashes)


def verify_inclusion(
    profile: HashProfile, leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """True iff ``proof`` shows ``leaf_hash`` at ``index`` in the tree ``(size, root)``."""
    if not _well_formed(profile, [leaf_hash, root, *proof]):
        return False
    # 1. leaf_index must be below tree_size.
    if index < 0 or index >= size:
        return False
    # 2.-3.
    fn, sn, r = index, size - 1, leaf_hash
    # 4.
    for p in proof:
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            r = node_hash(profile, p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(profile, r, p)
        fn >>= 1  # c.
        sn >>= 1
    # 5.
    return sn == 0 and compare_digest(r, root)


def verify_consistency(
    profile: HashProfile, m: int, n: int, proof: Sequence[bytes], root_m: bytes, root_n: bytes
) -> bool:
    """True iff ``proof`` shows the tree ``(n, root_n)`` extends ``(m, root_m)``."""
    if not _well_formed(profile, [root_m, root_n, *proof]) or not 0 <= m <= n:
        return False
    if m == n:  # RFC 9162 2.1.4.1: the proof for equal sizes is empty.
        return not proof and compare_digest(root_m, root_n)
    if m == 0:  # The empty tree is a prefix of every tree; nothing to prove.
        return not proof and compare_digest(root_m, empty_root(profile))
    # 1.
    if not proof:
        return False
    path = list(proof)
    # 2.
    if m & (m - 1) == 0:
        path.insert(0, root_m)
    # 3.-4.
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:  # a.
            return False
        if fn & 1 or fn == sn:  # b.
            fr = node_hash(profile, c, fr)
            sr = node_hash(profile, c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(profile, sr, c)
        fn >>= 1  # c.
        sn >>= 1
    # 7.
    return compare_digest(fr, root_m) and compare_digest(sr, root_n) and sn == 0


# --- incremental appends ----------------------------------------------------------------


@dataclass(frozen=True)
class CompactRange:
    """The frontier of a tree: its perfect-subtree roots, largest first (popcount(size) hashes).

    This is all the integrator needs to keep in order to append leaves and compute the new
    root; the Django side loads it with one query on ``root_node_ids(size)``.
    """

    size: int = 0
    frontier: tuple[bytes, ...] = ()
    profile: HashProfile = SHA256

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.frontier) != self.size.bit_count():
            raise ValueError(f"size {self.size} needs {self.size.bit_count()} frontier hashes")
        if not _well_formed(self.profile, self.frontier):
            raise ValueError(f"frontier hashes must be {self.profile.digest_size}-byte bytes")

    def root(self) -> bytes:
        if not self.frontier:
            return empty_root(self.profile)
        acc = self.frontier[-1]
        for h in reversed(self.frontier[:-1]):
            acc = node_hash(self.profile, h, acc)
        return acc

    def append(self, leaf_hashes: Sequence[bytes]) -> AppendResult:
        """Appends leaf hashes; returns the new range and every perfect node completed."""
        leaves = list(leaf_hashes)
        if not _well_formed(self.profile, leaves):
            raise ValueError(f"leaf hashes must be {self.profile.digest_size}-byte bytes")
        old_by_level = {
            level: h for (level, _), h in zip(root_node_ids(self.size), self.frontier, strict=True)
        }
        seeded = self.profile.new()
        seeded.update(_NODE_PREFIX)
        new_frontier: dict[int, bytes] = {}
        runs: list[tuple[int, int, list[bytes]]] = []
        level, start, cur = 0, self.size, leaves
        while cur:
            runs.append((level, start, cur))
            if start & 1:
                # The left sibling of our first node was complete but parentless:
                # it is the old frontier node at this level.
                seq = [old_by_level[level], *cur]
                start -= 1
            else:
                seq = cur
            if len(seq) & 1:
                new_frontier[level] = seq[-1]
            cur = _pair_up(seeded, seq)
            level, start = level + 1, start >> 1
        # Above the highest level that received new nodes, the frontier is unchanged.
        for lvl, h in old_by_level.items():
            if lvl >= level:
                new_frontier[lvl] = h
        frontier = tuple(new_frontier[lvl] for lvl in sorted(new_frontier, reverse=True))
        new_range = CompactRange(self.size + len(leaves), frontier, self.profile)
        return AppendResult(new_range, tuple(runs))

    def append_data(self, entries: Iterable[bytes]) -> AppendResult:
        """Convenience: leaf-hashes raw entries, then appends them."""
        seeded = self.profile.new()
        seeded.update(_LEAF_PREFIX)
        hashes = []
        for data in entries:
            h = seeded.copy()
            h.update(data)
            hashes.append(h.digest())
        return self.append(hashes)


@dataclass(frozen=True)
class AppendResult:
    """Outcome of ``CompactRange.append``.

    ``runs`` holds the new nodes compactly as ``(level, first_index, hashes)``: the new
    nodes of one level are always consecutive, which makes bulk inserts cheap.
    Level 0 is the appended leaf hashes themselves.
    """

    compact_range: CompactRange
    runs: tuple[tuple[int, int, list[bytes]], ...]

    @property
    def size(self) -> int:
        return self.compact_range.size

    @property
    def frontier(self) -> tuple[bytes, ...]:
        return self.compact_range.frontier

    def root(self) -> bytes:
        return self.compact_range.root()

    def nodes(self, *, include_leaves: bool = True) -> list[tuple[NodeId, bytes]]:
        """New perfect nodes as ``((level, index), hash)``, to be stored.

        Built with C-level zips: this list holds ~2 tuples per leaf, and building it with a
        Python-level loop costs more than all the hashing. Prefer ``runs`` for bulk inserts.
        """
        out: list[tuple[NodeId, bytes]] = []
        for level, first, hashes in self.runs:
            if include_leaves or level > 0:
                out.extend(zip(zip(repeat(level), range(first, first + len(hashes))), hashes, strict=True))
        return out
