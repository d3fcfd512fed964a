"""The catalog's demo: 60+ published resources, the contract's civil and market resources, idempotent."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tongban.catalog import services
from tongban.catalog.models import Item, Resource
from tongban.identity.access import ANONYMOUS
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db


def _snapshot():
    return (sorted(Resource.objects.values_list("code", "version", "status", "name")),
            Item.objects.count())


def test_demo_catalog_is_realistic_and_idempotent():
    call_command("demo", stdout=io.StringIO())
    first = _snapshot()
    call_command("demo", stdout=io.StringIO())
    assert _snapshot() == first
    published = Resource.objects.filter(status="published")
    # Each demo publication is on the ledger once, however often the demo is loaded.
    logged = LedgerEvent.objects.filter(action=services.PUBLISHED).values_list("subject", flat=True)
    assert sorted(logged) == sorted(f"resource:{code}" for code in published.values_list("code", flat=True))
    assert published.count() >= 60
    assert published.values("department").distinct().count() >= 10
    assert {"open_share", "conditional", "no_share"} <= set(published.values_list("sharing", flat=True))
    assert {"general", "important", "core"} <= set(Item.objects.values_list("grade", flat=True))
    civil = [r for r in published.filter(department__code="civil") if "婚姻" in r.name]
    assert civil and services.subject_kind(civil[0]) == "citizen"
    market = published.get(department__code="market", name="企业登记基本信息")
    assert services.subject_kind(market) == "enterprise"
    assert services.subject_item(market).data_element.identifier == "DE00007"
    assert all(r.quality_score for r in published)
    assert services.search_resources(ANONYMOUS, "企业").count > 5
    assert services.search_resources(ANONYMOUS, "婚姻登记").count == 0  # closed: not for the public
