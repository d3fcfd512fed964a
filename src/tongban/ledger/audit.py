"""``tongban ledger audit --url URL``: check a node's ledger from outside, over its public API.

What a third-party auditor can check with only the node's public key:

1. the latest checkpoint is signed by that key, for that log (origin = key name);
2. the leaf hashes the node publishes for entries 0 … size-1 hash to the signed root;
3. a sample of inclusion proofs the node serves verify against that root;
4. with a state file from an earlier audit: the new tree extends the old one (consistency
   proof), so the node has not rewritten or forked its history since.

It needs no database access and no login: only ``urllib`` and the crypto core.
"""

from __future__ import annotations

import base64
import json
import random
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tongban.ledger import notes
from tongban.ledger.keystore import profile_for_verifier
from tongban.ledger.merkle import root_from_leaves, verify_consistency, verify_inclusion

PAGE = 1000
SAMPLE = 16
TIMEOUT = 30


class AuditError(Exception):
    """The node's ledger failed a check; the message says which."""


@dataclass
class AuditResult:
    size: int
    root: bytes
    proofs_checked: int
    consistent_with: int | None  # size of the earlier checkpoint from the state file, if any


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


class _Client:
    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise AuditError(f"not an http(s) URL: {url!r}")
        base = url.rstrip("/")
        self.base = base if base.endswith("/api/v1") else f"{base}/api/v1"

    def get(self, path: str, **query: Any) -> bytes:
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        request = urllib.request.Request(url, headers={"Accept": "application/json, text/plain"})  # noqa: S310 - scheme checked
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310 - scheme checked
                return response.read()
        except OSError as exc:
            raise AuditError(f"GET {url} failed: {exc}") from exc

    def json(self, path: str, **query: Any) -> Any:
        return json.loads(self.get(path, **query))


def audit(url: str, *, key: str | None = None, state_file: Path | None = None,
          say: Callable[[str], None] = print, sample: int = SAMPLE, seed: int | None = None) -> AuditResult:
    """Runs every check; raises ``AuditError`` at the first failure."""
    client = _Client(url)
    if key is None:
        key = client.get("/ledger/key").decode("utf-8").strip()
        say("WARNING: trusting the key the node serves (trust on first use). Pass --key with the "
            "key published out of band to detect a node that replaced its key.")
    try:
        verifier = notes.parse_verifier_key(key)
    except notes.KeyFormatError as exc:
        raise AuditError(f"bad verifier key: {exc}") from exc
    profile = profile_for_verifier(verifier).hash
    note = client.get("/ledger/checkpoint")
    try:
        checkpoint = notes.open_checkpoint(note, [verifier], verifier.name)
    except notes.NoteError as exc:
        raise AuditError(f"the latest checkpoint does not verify with key {verifier.name}: {exc}") from exc
    size, root = checkpoint.size, checkpoint.root
    say(f"checkpoint: {verifier.name} size {size}, signature valid")

    leaves = _fetch_leaves(client, size)
    if root_from_leaves(leaves, profile=profile) != root:
        raise AuditError(f"the {size} published leaf hashes do not hash to the signed root")
    say(f"entries 0–{size - 1}: leaf hashes match the signed root" if size else "the log is empty")

    rng = random.Random(seed)
    picks = sorted({0, size - 1, *(rng.randrange(size) for _ in range(sample))}) if size else []
    for index in picks:
        body = client.json(f"/ledger/entries/{index}", tree_size=size)
        proof = [_b64(h) for h in body["inclusion_proof"]]
        if not verify_inclusion(profile, leaves[index], index, size, proof, root):
            raise AuditError(f"index {index}: the inclusion proof served does not verify against the signed root")
    if picks:
        say(f"{len(picks)} inclusion proofs verified")

    previous = _read_state(state_file, verifier.name)
    if previous is not None:
        old_size, old_root = previous
        if size < old_size:
            raise AuditError(f"the log shrank from {old_size} to {size} entries since the last audit")
        body = client.json("/ledger/consistency", first=old_size, second=size)
        proof = [_b64(h) for h in body["proof"]]
        if not verify_consistency(profile, old_size, size, proof, old_root, root):
            raise AuditError(f"size {size} is not consistent with the checkpoint of size {old_size} "
                             "seen at the last audit: history was rewritten")
        say(f"consistent with the checkpoint of size {old_size} from the last audit")
    if state_file is not None:
        _write_state(state_file, verifier.name, size, root, note.decode("utf-8"))
    return AuditResult(size, root, len(picks), previous[0] if previous else None)


def _fetch_leaves(client: _Client, size: int) -> list[bytes]:
    leaves: list[bytes] = []
    while len(leaves) < size:
        page = client.json("/ledger/entries", start=len(leaves), limit=min(PAGE, size - len(leaves)))
        if not page["items"]:
            raise AuditError(f"the node lists only {len(leaves)} of {size} entries")
        for item in page["items"]:
            if item["index"] != len(leaves):
                raise AuditError(f"index {len(leaves)}: the node listed index {item['index']} instead")
            leaves.append(_b64(item["leaf_hash"]))
            if len(leaves) == size:
                break
    return leaves


def _read_state(path: Path | None, origin: str) -> tuple[int, bytes] | None:
    if path is None or not path.exists():
        return None
    state = json.loads(path.read_text(encoding="utf-8"))
    if state.get("origin") != origin:
        raise AuditError(f"state file {path} is for {state.get('origin')!r}, not {origin!r}")
    return int(state["size"]), _b64(state["root"])


def _write_state(path: Path, origin: str, size: int, root: bytes, note: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"origin": origin, "size": size, "root": base64.b64encode(root).decode("ascii"),
                               "checkpoint": note}, indent=2), encoding="utf-8")
    tmp.replace(path)
