"""The exchange's demo: records across departments for the demo citizen and enterprise, the
DESIGN §7 guarantee (health's active query+verify grant to civil-00001 holding citizen-demo's
record), approved / pending / overdue / rejected / expired requests and grants, accesses that
"my data" shows — and a second load adds nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.exchange.factories_access import _fresh_caches  # noqa: F401 - autouse fixture
from tongban.exchange import demo
from tongban.exchange.models import Access, AccessRequest, AccessSubject, Batch, Grant, Record, RecordVersion
from tongban.exchange.services import access, grants, mydata, opendata
from tongban.exchange.services import requests as access_requests
from tongban.identity.access import Actor, actor_for_user
from tongban.identity.models import Department, User
from tongban.ledger.models import LedgerEvent

pytestmark = pytest.mark.django_db

TABLES = (Record, RecordVersion, Batch, AccessRequest, Grant, Access, AccessSubject, LedgerEvent)


def _counts() -> list[int]:
    return [model.objects.count() for model in TABLES]


def test_demo_exchange(client):
    call_command("demo", stdout=io.StringIO())
    first = _counts()
    call_command("demo", stdout=io.StringIO())
    assert _counts() == first  # idempotent: nothing added the second time

    citizen = User.objects.get(username="citizen-demo")
    id_number = citizen.citizen.id_number
    # DESIGN §7: health holds an ACTIVE query+verify grant to a civil-affairs resource with my record.
    now = timezone.now()
    grant = Grant.objects.get(consumer__code="health", resource_code="civil-00001", status=Grant.Status.ACTIVE,
                              starts_at__lte=now, expires_at__gt=now)
    assert {"query", "verify"} <= set(grant.modes)
    assert grants.grant_state(grant) == "active"
    assert Record.objects.filter(resource_code="civil-00001", subject=id_number).exists()
    health = Department.objects.get(code="health")
    system = Actor(kind="system", username="system:test-check", department_id=health.pk, department_code="health",
                   scopes=frozenset({"exchange:query", "exchange:verify"}))
    assert access.query(system, "civil-00001", id_number)["record"]["marital_status"] == "20"
    assert access.verify(system, "civil-00001", id_number, {"marital_status": "20"})["all_match"] is True

    # citizen-demo has records in several departments' resources, and sees the accesses.
    me = actor_for_user(citizen)
    records = mydata.my_records(me)
    assert len({r.department_code for r in records}) >= 3 and len(records) >= 5
    accesses = mydata.my_accesses(me)
    assert accesses.count == 6 + 2 and {a.department_code for a in accesses.items} == {"health"}
    assert {"query", "verify", "lookup"} == {a.mode for a in accesses.items}
    demo_accesses = Access.objects.filter(actor=demo.HEALTH_SYSTEM)
    assert demo_accesses.count() == 6 and all(a.ledger_event_id for a in demo_accesses)  # sealed by the demo
    enterprise = actor_for_user(User.objects.get(username="enterprise-demo"))
    assert len({r.department_code for r in mydata.my_records(enterprise)}) >= 2

    # approved (one at once for 无条件共享), pending (one overdue), rejected, expired.
    statuses = list(AccessRequest.objects.values_list("status", flat=True))
    assert statuses.count("pending") >= 2 and "rejected" in statuses and statuses.count("approved") >= 4
    assert any(access_requests.is_overdue(r) for r in AccessRequest.objects.filter(status="pending"))
    assert AccessRequest.objects.filter(status="approved", decided_by=access_requests.AUTO_APPROVER).exists()
    assert any(grants.grant_state(g) == "expired" for g in Grant.objects.all())
    assert Batch.objects.filter(channel=Batch.Channel.DEMO).count() == Batch.objects.count() >= 10

    # Open data of the demo: personal-sensitive items never in the download.
    assert "legal_representative" not in [c.key for c in opendata.columns_of(opendata.open_resource("market-00001"))]
    body = b"".join(client.get("/open-data/market-00001/records.csv").streaming_content).decode()
    assert body.count("\n") == Record.objects.filter(resource_code="market-00001").count() + 1
    assert "法定代表人" not in body.splitlines()[0]
