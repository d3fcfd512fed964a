"""An inclusion proof spelled out step by step, for people reading the entry page.

``merkle.verify_inclusion`` decides; this walks the same RFC 9162 (2.1.3.2) algorithm but
keeps every intermediate hash, so the page can show how the leaf hash climbs to the root.
The page shows a tick only when both agree and the checkpoint signature verifies.
"""

from __future__ import annotations

from dataclasses import dataclass

from tongban.ledger import keystore, notes
from tongban.ledger.merkle import HashProfile, node_hash, verify_inclusion


@dataclass(frozen=True)
class Step:
    sibling: bytes
    side: str  # "left" or "right": where the sibling sits
    result: bytes


@dataclass(frozen=True)
class InclusionCheck:
    steps: list[Step]
    computed_root: bytes
    root_matches: bool  # the independent verifier agrees
    signature_ok: bool | None  # None when no checkpoint of that exact size was published
    key: str


def inclusion_steps(profile: HashProfile, leaf: bytes, index: int, size: int, proof: list[bytes]) -> list[Step]:
    steps: list[Step] = []
    fn, sn, r = index, size - 1, leaf
    for sibling in proof:
        if fn & 1 or fn == sn:
            r = node_hash(profile, sibling, r)
            steps.append(Step(sibling, "left", r))
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(profile, r, sibling)
            steps.append(Step(sibling, "right", r))
        fn >>= 1
        sn >>= 1
    return steps


def check_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes], root: bytes,
                    checkpoint: str | None) -> InclusionCheck:
    profile = keystore.current_profile().hash
    steps = inclusion_steps(profile, leaf, index, size, proof)
    computed = steps[-1].result if steps else leaf
    verifier = keystore.verifier()
    signature_ok: bool | None = None
    if checkpoint is not None:
        try:
            signed = notes.open_checkpoint(checkpoint, [verifier], keystore.node_name())
            signature_ok = signed.size == size and signed.root == root
        except notes.NoteError:
            signature_ok = False
    matches = computed == root and verify_inclusion(profile, leaf, index, size, proof, root)
    return InclusionCheck(steps, computed, matches, signature_ok, verifier.verifier_key())
