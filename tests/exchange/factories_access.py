"""Builders for consumption tests: records and grants written directly (independent of the
loading and request/decision services), and a fixture that drops the per-process caches.

    env = consumer_env()            # civil's person resource, 3 records, health holds a grant
    access.query(env.clerk, env.code, id_number(1))
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.utils import timezone

from tests.exchange.factories import id_number, official, person_resource, person_row, system_token
from tongban.catalog import services as catalog
from tongban.catalog.validation import validator_for
from tongban.core import generations
from tongban.exchange.models import Batch, Grant, Record, RecordVersion, ResourceState
from tongban.exchange.services import authz, sealing
from tongban.identity.access import Actor
from tongban.identity.models import Department

PERSON_KEYS = ["id_number", "name", "sex", "phone", "address", "marital_status", "registered_on"]


@pytest.fixture(autouse=True)
def _fresh_caches(settings, tmp_path):
    """Every test starts with empty per-process caches and its own ledger keystore.

    Needed because test transactions roll back: ids and the generation value come round again,
    which a long-lived process never sees."""
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    settings.TONGBAN_CRYPTO_PROFILE = "standard"
    settings.TONGBAN_LEDGER_COALESCE_MS = 0
    authz.clear_caches()
    sealing._last_round.clear()  # the sequencer source's pacing
    yield
    authz.clear_caches()


def load(code: str, rows: Sequence[dict]) -> Batch:
    """Upsert ``rows`` into the resource (normalised like a load), new change sequences."""
    resource = catalog.get_published(code)
    items = catalog.items_of(resource)
    subject_key = next(item.key for item in items if item.is_subject_key)
    state, _ = ResourceState.objects.get_or_create(resource_code=code, defaults={"department": resource.department})
    now = timezone.now()
    batch = Batch.objects.create(resource_code=code, department=resource.department, loaded_by="test",
                                 channel=Batch.Channel.API, rows=len(rows),
                                 sha256=hashlib.sha256(repr(rows).encode()).hexdigest())
    seq = state.last_seq
    first = seq + 1
    for row in rows:
        data = {item.key: validator_for(item)(row.get(item.key)) for item in items}
        seq += 1
        Record.objects.update_or_create(resource_code=code, subject=data[subject_key],
                                        defaults={"data": data, "seq": seq, "batch": batch, "updated_at": now})
        RecordVersion.objects.create(resource_code=code, seq=seq, subject=data[subject_key], data=data, batch=batch,
                                     created_at=now)
    state.last_seq = seq
    state.record_count = Record.objects.filter(resource_code=code).count()
    state.save()
    batch.first_seq, batch.last_seq = first, seq
    batch.save()
    return batch


def make_grant(code: str, consumer: str, *, items: Sequence[str] = tuple(PERSON_KEYS),
               modes: Sequence[str] = ("query", "verify", "subscribe"), clear: Sequence[str] = ("sex",
                                                                                                "marital_status"),
               rate: int = 600, days: int = 30, starts_in: float = -1, purpose: str = "办理婚姻状况核查业务",
               webhook_url: str = "") -> Grant:
    """An active grant (bumps the generation, as the grant services do)."""
    resource = catalog.get_published(code)
    now = timezone.now()
    consumer_department = Department.objects.get(code=consumer)
    with transaction.atomic():
        grant = Grant.objects.create(
            resource_code=code, provider=resource.department, consumer=consumer_department, items=list(items),
            clear_items=list(clear), modes=list(modes), purpose=purpose, rate_limit_per_minute=rate,
            starts_at=now + datetime.timedelta(seconds=starts_in), expires_at=now + datetime.timedelta(days=days),
            created_by="test", webhook_url=webhook_url, webhook_secret="s3cret-for-tests" if webhook_url else "",
        )
        generations.bump()
    return grant


def revoke(grant: Grant) -> None:
    with transaction.atomic():
        Grant.objects.filter(pk=grant.pk).update(status=Grant.Status.REVOKED, revoked_at=timezone.now(),
                                                 revoked_by="test")
        generations.bump()


@dataclass
class Env:
    code: str
    clerk: Actor  # an official of the consumer department
    token: str  # a system token of the consumer with every consume scope
    grant: Grant


def consumer_env(*, provider: str = "civil", consumer: str = "health", records: int = 3, **grant_options) -> Env:
    resource = person_resource(provider)
    load(resource.code, [person_row(n) for n in range(1, records + 1)])
    clerk = official(consumer, "clerk")
    token = system_token(consumer, "exchange:query", "exchange:verify", "exchange:subscribe")
    grant = make_grant(resource.code, consumer, **grant_options)
    return Env(resource.code, clerk, token, grant)


__all__ = ["Env", "PERSON_KEYS", "consumer_env", "id_number", "load", "make_grant", "revoke", "_fresh_caches"]
