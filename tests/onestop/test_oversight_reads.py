"""Who outside the handling departments reads an application: the bureau's oversight only, and
each such read is a ledger entry naming the applicant by keyed hash."""

from __future__ import annotations

import json

import pytest

from tests.identity.factories import PASSWORD
from tests.onestop import factories as f
from tests.onestop.factories_apps import submitted
from tongban.core.errors import NotFound
from tongban.ledger import services as ledger
from tongban.ledger.models import LedgerEvent
from tongban.onestop.services import applications

pytestmark = pytest.mark.django_db

VIEWED = "onestop.oversight_viewed"


def _token(client, user) -> dict:
    body = json.dumps({"username": user.username, "password": PASSWORD})
    token = client.post("/api/v1/auth/token", data=body, content_type="application/json").json()["access_token"]
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def _viewed() -> list[LedgerEvent]:
    return list(LedgerEvent.objects.filter(action=VIEWED).order_by("id"))


def test_an_oversight_read_is_a_ledger_entry_with_the_applicant_as_a_hash(client, settings):
    settings.TONGBAN_MFA_REQUIRED = False  # the bureau administrator's token without enrolling a TOTP device
    application, _user = submitted()
    overseer = f.bureau_admin()
    response = client.get(f"/api/v1/onestop/applications/{application.number}", **_token(client, overseer))
    assert response.status_code == 200, response.content
    (event,) = _viewed()
    entry = json.loads(bytes(event.entry))
    assert entry["actor"] == overseer.username and entry["subject"] == f"application:{application.number}"
    assert entry["payload"]["status"] == "submitted"
    assert list(event.subject_hashes.values_list("hash", flat=True)) == [ledger.subject_hash(application.subject)]
    assert application.subject not in bytes(event.entry).decode()


def test_bureau_staff_without_an_oversight_role_do_not_read_other_departments_applications():
    application, _user = submitted()
    bureau_steward = f.official_user("bureau", "steward", is_bureau=True)
    with pytest.raises(NotFound):
        applications.get_application(f.actor(bureau_steward), application.number)
    auditor = f.official_user("bureau", "auditor", is_bureau=True)
    assert applications.get_application(f.actor(auditor), application.number).pk == application.pk
    assert [json.loads(bytes(e.entry))["actor"] for e in _viewed()] == [auditor.username]


def test_the_applicant_and_the_handling_department_read_without_an_oversight_entry():
    application, user = submitted()
    applications.get_application(f.actor(user), application.number)
    applications.get_application(f.actor(f.clerk("civil")), application.number)
    assert _viewed() == []
    with pytest.raises(NotFound):  # another department's clerk
        applications.get_application(f.actor(f.clerk("market")), application.number)
