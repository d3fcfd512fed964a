"""Helpers shared by the ledger's Django tests."""

from __future__ import annotations

from django.db import transaction

from tongban.ledger import services
from tongban.ledger.models import LedgerEvent


def record_many(count: int, *, start: int = 0, action: str = "test.recorded") -> list[LedgerEvent]:
    """``count`` events in one committed (or, inside a test, nested) transaction."""
    with transaction.atomic():
        return [
            services.record(actor=f"user-{i % 7}", action=action, subject=f"resource:R-{i:04d}",
                            payload={"n": i, "note": "数据共享"}, department=("market", "health", None)[i % 3])
            for i in range(start, start + count)
        ]


def grow(batches: list[int]) -> list[int]:
    """Records and integrates ``batches`` one after the other; returns the checkpoint sizes.

    (In ``transaction=True`` tests the commit already integrates; then this finds nothing to do.)
    """
    sizes, total = [], LedgerEvent.objects.count()
    for count in batches:
        record_many(count, start=total)
        total += count
        assert services.integrate().size == total
        sizes.append(total)
    return sizes
