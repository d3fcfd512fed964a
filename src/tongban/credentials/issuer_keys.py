"""Credential issuer keys and the region root key, kept in the ledger's keystore directory.

Files, created on first use with mode 0600 exactly as the ledger's own keys (written to a private
temporary file and hard-linked into place, so concurrent workers agree on one key):

* ``credential-issuer-<department code>.pem``: one issuing key per department (PKCS#8 PEM,
  Ed25519, or SM2 under the national crypto profile);
* ``credential-status.pem``: the node key that signs the published status lists;
* ``credential-presentation.pem``: the node key that signs the holder's presentation tokens
  (never published in the trust list: only this node redeems them);
* ``credential-root.pem``: the region ROOT key that signs the node's trust list. Other regions pin
  its public JWK (``tongban credential export-trust-list`` writes it). Keep it backed up; a
  production node should hold it offline.
"""

from __future__ import annotations

import functools
import re

from django.conf import settings

from tongban.credentials.keys import SigningKey, signing_key_from_pem
from tongban.ledger import keystore

ROOT_FILE = "credential-root.pem"
STATUS_FILE = "credential-status.pem"
PRESENTATION_FILE = "credential-presentation.pem"
STATUS_ISSUER = "node"


def _key(file_name: str) -> SigningKey:
    profile = keystore.current_profile()
    path = keystore.keystore_dir() / file_name
    return _load(str(path), profile.name)


@functools.lru_cache(maxsize=64)
def _load(path: str, profile_name: str) -> SigningKey:
    from pathlib import Path

    profile = keystore.PROFILES[profile_name]
    return signing_key_from_pem(keystore.read_or_create_key_pem(Path(path), profile))


def issuer_key(department_code: str) -> SigningKey:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", department_code):
        raise ValueError(f"bad department code {department_code!r}")
    return _key(f"credential-issuer-{department_code}.pem")


def status_key() -> SigningKey:
    return _key(STATUS_FILE)


def presentation_key() -> SigningKey:
    return _key(PRESENTATION_FILE)


def root_key() -> SigningKey:
    return _key(ROOT_FILE)


def base_url() -> str:
    """The node's public origin used in issuer ids and status list URLs."""
    return getattr(settings, "TONGBAN_PUBLIC_URL", None) or f"https://{settings.TONGBAN_NODE_NAME}"


def issuer_id(department_code: str) -> str:
    return f"{base_url()}/issuers/{department_code}"
