"""The node's ledger keys and its crypto profile.

Two secrets live in the keystore directory (``$TONGBAN_DATA_DIR/keystore`` unless
``TONGBAN_KEYSTORE_DIR`` says otherwise), created on first use with mode 0600 and never in
the repository:

* the checkpoint signing key, PKCS#8 PEM (Ed25519, or SM2 for the national profile);
* the subject secret, the HMAC key that turns ID numbers and USCCs into subject hashes.

Back the keystore up with the database: without the signing key the node cannot extend its
log under the same verifier key, and without the subject secret nobody can find their
entries again.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tongban.core.config import read_or_create_secret
from tongban.ledger import notes
from tongban.ledger.merkle import SHA256, SM3, HashProfile

SUBJECT_SECRET_FILE = "ledger-subject-secret"  # noqa: S105 - a file name, not a secret


@dataclass(frozen=True)
class CryptoProfile:
    """A hash for the tree plus a signature scheme for checkpoints."""

    name: str
    hash: HashProfile
    key_file: str
    generate: Callable[[], Any]
    make_signer: Callable[[str, Any], notes.Signer]


STANDARD = CryptoProfile("standard", SHA256, "ledger-ed25519.pem", notes.generate_ed25519, notes.Ed25519Signer)
NATIONAL = CryptoProfile("national", SM3, "ledger-sm2.pem", notes.generate_sm2, notes.SM2Signer)
PROFILES: dict[str, CryptoProfile] = {p.name: p for p in (STANDARD, NATIONAL)}


def current_profile() -> CryptoProfile:
    """The deployment's profile (``TONGBAN_CRYPTO_PROFILE``: ``standard`` or ``national``)."""
    name = getattr(settings, "TONGBAN_CRYPTO_PROFILE", "standard")
    try:
        return PROFILES[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"TONGBAN_CRYPTO_PROFILE={name!r}: use one of {', '.join(sorted(PROFILES))}"
        ) from None


def profile_for_verifier(verifier: notes.Verifier) -> CryptoProfile:
    """An outside auditor learns the tree hash from the key type alone."""
    return NATIONAL if isinstance(verifier, notes.SM2Verifier) else STANDARD


def keystore_dir() -> Path:
    configured = getattr(settings, "TONGBAN_KEYSTORE_DIR", None)
    return Path(configured) if configured else Path(settings.DATA_DIR) / "keystore"


def node_name() -> str:
    """The log's origin and the key's name, e.g. ``tongban.330000``."""
    return settings.TONGBAN_NODE_NAME


def signer() -> notes.Signer:
    profile = current_profile()
    return _load_signer(str(keystore_dir() / profile.key_file), profile.name, node_name())


def verifier() -> notes.Verifier:
    return signer().verifier()


def verifier_key() -> str:
    """``<name>+<hex key ID>+<base64(type || public key)>``, as published at /ledger/key."""
    return verifier().verifier_key()


def subject_secret() -> bytes:
    return _subject_secret(str(keystore_dir() / SUBJECT_SECRET_FILE))


@functools.lru_cache(maxsize=8)
def _load_signer(path: str, profile_name: str, name: str) -> notes.Signer:
    profile = PROFILES[profile_name]
    key = notes.load_private_key_pem(read_or_create_key_pem(Path(path), profile))
    return profile.make_signer(name, key)


@functools.lru_cache(maxsize=8)
def _subject_secret(path: str) -> bytes:
    return read_or_create_secret(Path(path)).encode("ascii")


def read_or_create_key_pem(path: Path, profile: CryptoProfile) -> bytes:
    """The PEM at ``path``, generated with ``profile``'s algorithm on first use (mode 0600).

    The key is written to a private temporary file and then hard-linked into place: linking
    fails if the name exists, so two workers starting at once agree on one key, and neither
    can ever read a half-written file.
    """
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = notes.private_key_to_pem(profile.generate())
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".pem")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        os.unlink(tmp)
    return pem


_read_or_create_key = read_or_create_key_pem  # the name tongban.credentials.issuer_keys imports
