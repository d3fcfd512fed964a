"""Fixtures for the Django side of the ledger (the pure crypto modules use none of these)."""

from __future__ import annotations

import pytest


@pytest.fixture
def ledger_keystore(settings, tmp_path):
    """A fresh keystore per test: keys are created on first use, as on a new node."""
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    settings.TONGBAN_CRYPTO_PROFILE = "standard"
    settings.TONGBAN_LEDGER_COALESCE_MS = 0  # every commit integrates (SQLite would coalesce)
    return settings.TONGBAN_KEYSTORE_DIR


@pytest.fixture
def national(settings, ledger_keystore):
    pytest.importorskip("tongsuopy")
    settings.TONGBAN_CRYPTO_PROFILE = "national"
    return ledger_keystore
