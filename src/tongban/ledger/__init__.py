"""Cryptographic core of the tamper-evident ledger (pure Python: no Django, no database)."""
