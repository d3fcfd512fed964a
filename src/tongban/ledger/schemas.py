"""API schemas of the ledger. Hashes are standard base64, as in C2SP checkpoints."""

from __future__ import annotations

import datetime
from typing import Any

from ninja import Schema


class EntryOut(Schema):
    index: int
    leaf_hash: str
    action: str
    department: str | None
    time: datetime.datetime
    subject: str
    # Auditors only (left out for everyone else):
    actor: str | None = None
    payload: dict[str, Any] | None = None
    subject_hashes: list[str] | None = None
    entry: str | None = None  # the canonical JSON the leaf hash covers


class EntryProofOut(EntryOut):
    tree_size: int
    root: str
    inclusion_proof: list[str]
    checkpoint: str | None  # the signed checkpoint of exactly tree_size, when the node published one


class EntryListOut(Schema):
    items: list[EntryOut]
    count: int  # the tree size the list was read at


class ConsistencyOut(Schema):
    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]
