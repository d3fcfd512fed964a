"""The offline verifier: files only, no database, no network (``tongban credential verify``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tongban.credentials.keys import CredentialError
from tongban.credentials.trustlist import TrustList, open_trust_list
from tongban.credentials.truststore import TrustStore
from tongban.credentials.vc import parse_vc_jwt
from tongban.credentials.verify import (
    MAX_STATUS_LIST_JWT,
    StatusListCache,
    VerificationResult,
    verify_credential,
)


def read_root(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("root_jwk", data) if isinstance(data, dict) else data


def load_trust(trust: Path, root: Path | None) -> TrustList:
    """The trust list at ``trust`` (a JWS, or JSON ``{"token", "root_jwk"}``) checked against the
    pinned root key in ``root`` (default: ``<trust>.root.json`` beside it)."""
    text = trust.read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        text = json.loads(text)["token"]
    root = root or trust.with_name(trust.name + ".root.json")
    if not root.exists():
        raise FileNotFoundError(f"no pinned root key: give --root (looked for {root})")
    return open_trust_list(text, read_root(root))


def load_status(files: list[Path], store: TrustStore) -> StatusListCache | None:
    if not files:
        return None
    by_url = {}
    for path in files:
        token = path.read_text(encoding="utf-8").strip()
        by_url[parse_vc_jwt(token, MAX_STATUS_LIST_JWT).credential.get("id")] = token

    def fetch(url: str) -> str:
        if url not in by_url:
            raise CredentialError("status_unavailable", f"no --status file for {url}")
        return by_url[url]

    return StatusListCache(fetch, store)


def verify_file(path: Path, trust: list[Path], root: list[Path] | None = None,
                status: list[Path] | None = None) -> VerificationResult:
    roots = list(root or [])
    lists = [load_trust(t, roots[i] if i < len(roots) else None) for i, t in enumerate(trust)]
    store = TrustStore(lists[0])
    for extra in lists[1:]:
        store.import_region(extra)
    return verify_credential(path.read_bytes(), store, load_status(list(status or []), store))
