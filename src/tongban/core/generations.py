"""Cache generations: a cheap, cross-process "something cached has changed" signal.

A process caches authorization facts (token → actor, department → grants) together with the
generation it read; a change bumps the generation in the same transaction as the change, so
once it commits every process sees a new value on its next read and refreshes. Revocation thus
takes effect on the very next request, in every worker, without a per-request lookup of the
facts themselves.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS
from django.db.models import F

from tongban.core.models import Generation

ACCESS = "access"  # tokens, grants: whatever decides who may read shared records


def bump(name: str = ACCESS, using: str = DEFAULT_DB_ALIAS) -> None:
    """Mark ``name`` changed (call inside the transaction that makes the change)."""
    if not Generation.objects.using(using).filter(name=name).update(value=F("value") + 1):
        Generation.objects.using(using).get_or_create(name=name, defaults={"value": 1})


def current(name: str = ACCESS, using: str = DEFAULT_DB_ALIAS) -> int:
    return Generation.objects.using(using).filter(name=name).values_list("value", flat=True).first() or 0
