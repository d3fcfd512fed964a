"""Public ledger pages: the latest checkpoint and recent entries; one entry with its proof."""

from __future__ import annotations

import base64
import json

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tongban.core.errors import NotFound
from tongban.ledger import services
from tongban.ledger.explain import check_inclusion

PAGE_SIZE = 25


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _int_param(request: HttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "").strip()
    return int(value) if value.isdigit() else None


def index(request: HttpRequest) -> HttpResponse:
    wanted = _int_param(request, "index")
    if wanted is not None:
        return redirect("ledger:entry", index=wanted)
    start = _int_param(request, "start") or 0
    rows, size = services.list_entries(start, PAGE_SIZE, newest_first=True)
    checkpoint = services.latest_checkpoint()
    site = request.build_absolute_uri("/").rstrip("/")
    return render(request, "ledger/index.html", {
        "checkpoint": checkpoint,
        "root": _b64(bytes(checkpoint.root)) if checkpoint else "",
        "size": size,
        "key": services.verifier_key(),
        "rows": [{"event": event, "leaf": _b64(leaf)} for event, leaf in rows],
        "newer": max(start - PAGE_SIZE, 0) if start else None,
        "older": start + PAGE_SIZE if start + PAGE_SIZE < size else None,
        "site": site,
        "api": f"{site}/api/v1/ledger",
    })


def entry(request: HttpRequest, index: int) -> HttpResponse:
    try:
        proof = services.inclusion(index)
        event = services.get_entry(index)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    check = check_inclusion(index, proof.tree_size, proof.leaf_hash, proof.proof, proof.root, proof.checkpoint)
    full = services.may_see_full_entry(getattr(request, "actor", None))
    return render(request, "ledger/entry.html", {
        "event": event,
        "proof": proof,
        "leaf": _b64(proof.leaf_hash),
        "root": _b64(proof.root),
        "computed_root": _b64(check.computed_root),
        "steps": [{"sibling": _b64(s.sibling), "side": s.side, "result": _b64(s.result)} for s in check.steps],
        "check": check,
        "verified": check.root_matches and check.signature_ok is not False,
        "content": services.entry_content(event) if full else None,
        "entry_text": bytes(event.entry).decode("utf-8") if full else None,
        "api": request.build_absolute_uri(f"/api/v1/ledger/entries/{index}?tree_size={proof.tree_size}"),
        "proof_json": json.dumps([_b64(h) for h in proof.proof]),
        "hash_name": services.hash_name(),
    })
