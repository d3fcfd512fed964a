"""Builders for the security-monitoring tests (no tests here): generated traffic written straight
into the tables the detection rules read — ``Access`` rows, ``SecurityEvent`` rows, axes rows —
and the people who read and work alerts.

    NOW = at(2026, 3, 10, 14)                   # local (Asia/Shanghai) time
    accesses("system:tbs_x", "health", 250, since=NOW - HOUR)
    alerts.detect(NOW)
"""

from __future__ import annotations

import datetime
import itertools
from zoneinfo import ZoneInfo

import pytest

from tests.catalog.factories import bureau
from tests.exchange.factories import id_number
from tests.identity.factories import make_department, make_official
from tongban.exchange.models import Access, AccessSubject, Grant
from tongban.identity.access import Actor, actor_for_user
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent
from tongban.ledger.privacy import find_identifier
from tongban.oversight import middleware
from tongban.oversight.models import Alert, SecurityEvent

LOCAL = ZoneInfo("Asia/Shanghai")
HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)
_serial = itertools.count(1)


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime.datetime:
    """A local (Asia/Shanghai) moment."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=LOCAL)


NOW = at(2026, 3, 10, 14)


@pytest.fixture(autouse=True)
def _monitoring(settings, tmp_path):
    """Own keystore (subject hashes, ledger), default thresholds, the middleware's throttle empty."""
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    settings.TONGBAN_CRYPTO_PROFILE = "standard"
    settings.TONGBAN_MFA_REQUIRED = False
    middleware._recent.clear()
    yield
    middleware._recent.clear()


def accesses(actor: str, consumer: str, count: int, *, since: datetime.datetime, spread: datetime.timedelta = HOUR,
             mode: str = "query", subjects: list[str] | None = None, subject_count: int = 1, found: int = 1,
             grant: Grant | None = None, resource: str = "CIV-0001") -> list[Access]:
    """``count`` accesses by ``actor`` of department ``consumer`` spread evenly over
    [since, since + spread); ``subjects``: ID numbers, one per access in turn (stored as keyed
    hashes, like the exchange does)."""
    make_department(consumer)
    step = spread / max(count, 1)
    rows = [Access(at=since + step * n, grant=grant, resource_code=resource, consumer_code=consumer, actor=actor,
                   mode=mode, items=["name"], purpose="测试", subject_count=subject_count, found=found,
                   subject_hash=ledger.subject_hash(subjects[n % len(subjects)]) if subjects else "")
            for n in range(count)]
    return Access.objects.bulk_create(rows)


def lookup(actor: str, consumer: str, *, when: datetime.datetime, subjects: list[str], found: int) -> Access:
    """One lookup of many subjects (their hashes in AccessSubject rows, as the exchange writes them)."""
    make_department(consumer)
    row = Access.objects.create(at=when, resource_code="CIV-0001", consumer_code=consumer, actor=actor, mode="lookup",
                                items=["name"], purpose="测试", subject_count=len(subjects), found=found)
    AccessSubject.objects.bulk_create([AccessSubject(access=row, subject_hash=ledger.subject_hash(s))
                                       for s in subjects])
    return row


def sealed(access: Access, index: int) -> LedgerEvent:
    """Seal ``access`` into a ledger entry at ``index`` (as the sealer and integrator would)."""
    event = ledger.record(actor=access.actor, action="exchange.access", subject=f"resource:{access.resource_code}",
                          payload={"access": access.pk})
    LedgerEvent.objects.filter(pk=event.pk).update(index=index)
    Access.objects.filter(pk=access.pk).update(ledger_event_id=event.pk)
    return event


def refusals(actor: str, count: int, *, since: datetime.datetime, spread: datetime.timedelta,
             code: str = "no_grant", department: str = "market") -> list[SecurityEvent]:
    """``count`` refusals (403) of ``actor``; the path names a subject in clear, as a row written
    before the middleware masked paths would (the alert must not show it)."""
    step = spread / max(count, 1)
    return SecurityEvent.objects.bulk_create([
        SecurityEvent(at=since + step * n, kind="forbidden", code=code, actor=actor, department_code=department,
                      method="GET", path=f"/api/v1/exchange/resources/CIV-0001/records/{id_number(7)}")
        for n in range(count)])


def subjects(count: int, start: int = 1) -> list[str]:
    return [id_number(n) for n in range(start, start + count)]


def manager() -> Actor:
    """The bureau's administrator and CDO."""
    return bureau(f"bureau-{next(_serial)}")


def auditor() -> Actor:
    user = make_official(f"auditor-{next(_serial)}", make_department("bureau", is_bureau=True), ["auditor"])
    return actor_for_user(user)


def official(department: str, *roles: str) -> Actor:
    user = make_official(f"{department}-{next(_serial)}", make_department(department), list(roles or ["steward"]))
    return actor_for_user(user)


def no_identifiers(alert: Alert) -> bool:
    """Neither an ID number nor a credit code in clear anywhere an alert shows."""
    return find_identifier(alert.evidence, alert.summary, alert.title_zh, alert.title_en, alert.actor) is None


__all__ = ["HOUR", "LOCAL", "MINUTE", "NOW", "accesses", "at", "auditor", "lookup", "manager", "no_identifiers",
           "official", "refusals", "sealed", "subjects", "_monitoring"]
