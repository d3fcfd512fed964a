"""Deployment configuration read from the environment.

Everything a deployment changes comes from environment variables, so one build runs as the
embedded demo, in CI and in a province's data centre. Secrets are never read from the repo:
the Django secret key is taken from ``TONGBAN_SECRET_KEY`` or generated once into the data
directory with owner-only permissions.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

TRUE_WORDS = {"1", "true", "yes", "on"}


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in TRUE_WORDS


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def data_dir() -> Path:
    """The directory holding the SQLite file, the keystore and uploads (created on demand, for
    the platform's own user only: the SQLite files in it hold personal data)."""
    path = Path(os.environ.get("TONGBAN_DATA_DIR", "var")).expanduser().resolve()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_or_create_secret(path: Path, nbytes: int = 48) -> str:
    """Return the secret stored at ``path``, creating it (mode 0600) on first use.

    ``O_EXCL`` makes concurrent first starts (two workers) agree on one secret: the loser of
    the race reads the winner's file instead of overwriting it.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        value = path.read_text(encoding="ascii").strip()
        if value:
            return value
        raise RuntimeError(f"secret file {path} is empty; delete it or set the secret in the environment") from None
    value = secrets.token_urlsafe(nbytes)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value


def secret_key() -> str:
    return os.environ.get("TONGBAN_SECRET_KEY") or read_or_create_secret(data_dir() / "keystore" / "django-secret-key")
