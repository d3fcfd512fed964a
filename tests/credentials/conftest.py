"""Fixtures for the Django side of credentials (the pure tests of this package use none)."""

from __future__ import annotations

import pytest


@pytest.fixture
def cred_env(settings, tmp_path):
    """A fresh keystore per test and a fixed node origin."""
    from tongban.credentials import issuer_keys

    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    settings.TONGBAN_CRYPTO_PROFILE = "standard"
    settings.TONGBAN_LEDGER_COALESCE_MS = 0
    settings.TONGBAN_REGION = "330000"
    settings.TONGBAN_PUBLIC_URL = "https://tongban.330000"
    issuer_keys._load.cache_clear()
    yield settings.TONGBAN_KEYSTORE_DIR
    issuer_keys._load.cache_clear()
