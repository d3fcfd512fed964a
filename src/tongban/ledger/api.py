"""Ledger API (DESIGN.md §7): public, for auditors and anyone with the node's key.

Every operation is ``auth=None``. The full entry (actor, payload, subject hashes, canonical
bytes) is shown only to an auditor: the identity layer puts the caller on ``request.actor``;
the ledger only reads its roles, so it imports no higher app.
"""

from __future__ import annotations

import base64

from django.http import HttpRequest, HttpResponse
from ninja import Path, Query, Router

from tongban.core.errors import NotFound
from tongban.ledger import services
from tongban.ledger.models import LedgerEvent
from tongban.ledger.schemas import ConsistencyOut, EntryListOut, EntryProofOut

router = Router(tags=["ledger"])

_TEXT = {"responses": {200: {"description": "text/plain", "content": {"text/plain": {"schema": {"type": "string"}}}}}}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _may_see_payload(request: HttpRequest) -> bool:
    return services.may_see_full_entry(getattr(request, "actor", None))


def _entry(event: LedgerEvent, leaf_hash: bytes, full: bool) -> dict:
    out = {"index": event.index, "leaf_hash": _b64(leaf_hash), "action": event.action,
           "department": event.department or None, "time": event.recorded_at, "subject": event.subject}
    if full:
        content = services.entry_content(event)
        out.update(actor=event.actor, payload=content.get("payload"), subject_hashes=content.get("subjects"),
                   entry=bytes(event.entry).decode("utf-8"))
    return out


def _text(body: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    return response


@router.get("/checkpoint", auth=None, summary="Latest signed checkpoint (C2SP signed note)", openapi_extra=_TEXT)
def checkpoint(request):
    latest = services.latest_checkpoint()
    if latest is None:
        raise NotFound("账本尚无检查点", "The ledger has no checkpoint yet", code="no_checkpoint")
    return _text(latest.note)


@router.get("/key", auth=None, summary="Verifier key of the checkpoint signatures", openapi_extra=_TEXT)
def key(request):
    return _text(services.verifier_key() + "\n")


@router.get("/entries", response=EntryListOut, auth=None, exclude_unset=True,
            summary="Integrated entries in index order, with their leaf hashes")
def entries(request, start: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)):
    rows, size = services.list_entries(start, limit)
    full = _may_see_payload(request)
    return {"items": [_entry(event, leaf, full) for event, leaf in rows], "count": size}


@router.get("/entries/{index}", response=EntryProofOut, auth=None, exclude_unset=True,
            summary="One entry and its inclusion proof (default: against the latest checkpoint)")
def entry(request, index: int = Path(..., ge=0), tree_size: int | None = Query(None)):
    proof = services.inclusion(index, tree_size)
    event = services.get_entry(index)
    return {**_entry(event, proof.leaf_hash, _may_see_payload(request)), "tree_size": proof.tree_size,
            "root": _b64(proof.root), "inclusion_proof": [_b64(h) for h in proof.proof],
            "checkpoint": proof.checkpoint}


@router.get("/consistency", response=ConsistencyOut, auth=None,
            summary="Consistency proof between two tree sizes (default second: latest)")
def consistency(request, first: int = Query(...), second: int | None = Query(None)):
    proof = services.consistency(first, second)
    return {"first": proof.first, "second": proof.second, "first_root": _b64(proof.first_root),
            "second_root": _b64(proof.second_root), "proof": [_b64(h) for h in proof.proof]}
