"""Prefill through the exchange and 免证办: values, Access rows (mode prefill, seen in "my data"),
reuse of shared data and wallet credentials, and the self-service read itself."""

from __future__ import annotations

import pytest
from django.db import transaction

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.core.errors import InvalidInput
from tongban.exchange.models import Access
from tongban.exchange.services import mydata, sealing, selfservice
from tongban.ledger import services as ledger
from tongban.onestop.services import applications as apps

pytestmark = pytest.mark.django_db


def test_prefill_values_reuse_and_access_rows():
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen)
    fa.record(fa.POP, citizen.id_number, {"id_number": citizen.id_number, "name": "王五"}, "bureau")  # no household
    item = fa.prefill_item()
    fa.credential(citizen, "marriage_certificate", {"spouse_name": "林晓燕"})
    by_source = fa.materials(item)

    application = fa.start(user, item)

    assert application.status == "draft" and application.subject == citizen.id_number
    assert application.prefilled == {
        "name": {"value": "王五", "resource": fa.CIVIL, "item": "name"},
        "marital_status": {"value": "20", "resource": fa.CIVIL, "item": "marital_status"},
    }  # household_region is absent from the record: not prefilled, the applicant types it
    assert application.form["name"] == "王五" and "household" not in application.form
    shared, cert = str(by_source["shared_data"].pk), str(by_source["certificate"].pk)
    assert application.reused[shared] == {"source": "shared_data", "resource": fa.CIVIL, "items": ["marital_status"],
                                          "values": {"marital_status": "20"}}
    assert application.reused[cert]["source"] == "certificate"
    assert application.reused[cert]["type"] == "marriage_certificate"
    assert application.reused_count == 2

    # one self-service read per resource, logged as an access of the implementing department
    rows = list(Access.objects.filter(mode="prefill").order_by("resource_code"))
    assert [(a.resource_code, a.found) for a in rows] == [(fa.POP, 1), (fa.CIVIL, 1)]
    civil = next(a for a in rows if a.resource_code == fa.CIVIL)
    assert civil.grant_id is None and civil.consumer_code == "civil" and civil.actor == user.username
    assert sorted(civil.items) == ["marital_status", "name"]
    assert civil.purpose == "本人办事 self-service" and civil.subject_count == 1
    assert civil.subject_hash == ledger.subject_hash(citizen.id_number)

    # the citizen sees them in "my data", and they are sealed into the ledger like any access
    page = mydata.my_accesses(f.actor(user))
    assert {a.mode for a in page.items} == {"prefill"} and page.count == 2
    assert sealing.seal_pending() == 2
    assert not Access.objects.filter(mode="prefill", ledger_event_id__isnull=True).exists()


def test_no_records_no_credential_nothing_reused():
    user, _citizen = f.citizen_applicant()
    item = fa.prefill_item()
    application = fa.start(user, item)
    assert application.prefilled == {} and application.reused == {} and application.reused_count == 0
    assert set(Access.objects.filter(mode="prefill").values_list("found", flat=True)) == {0}
    missing = apps.missing(application)
    assert {m.get("field") for m in missing if "field" in m} == {"name", "reason"}
    # the form-section material is covered by its field "reason"
    assert {m["source"] for m in missing if "material" in m} == {"shared_data", "certificate", "upload"}


def test_suspended_credentials_are_not_reused():
    from tongban.credentials import services as credentials
    from tongban.onestop.services.completion import issuer

    user, citizen = f.citizen_applicant()
    item = fa.prefill_item()
    credential = fa.credential(citizen, "marriage_certificate", {"spouse_name": "林"})
    with transaction.atomic():
        credentials.suspend(issuer(credential.type), credential.pk)
    application = fa.start(user, item)
    assert not any(v["source"] == "certificate" for v in application.reused.values())


def test_resuming_returns_the_same_draft_without_fetching_again():
    user, citizen = f.citizen_applicant()
    fa.marriage_record(citizen)
    item = fa.prefill_item()
    first = fa.start(user, item)
    count = Access.objects.count()
    again = fa.start(user, item)
    assert again.pk == first.pk and Access.objects.count() == count


def test_fetch_own_returns_only_the_requested_items():
    user, citizen = f.citizen_applicant()
    fa.marriage_record(citizen)
    actor = f.actor(user)
    with transaction.atomic():
        got = selfservice.fetch_own(actor, citizen.id_number, fa.CIVIL, ["name", "nope"], department_code="civil")
        none = selfservice.fetch_own(actor, citizen.id_number, "no-such-resource", ["x"], department_code="civil")
        other, _ = f.citizen_applicant()
        absent = selfservice.fetch_own(actor, other.citizen.id_number, fa.CIVIL, ["name"], department_code="civil")
    assert got == {"name": citizen.name}
    assert none is None and absent is None
    assert not Access.objects.filter(resource_code="no-such-resource").exists()  # not in the catalog: not read
    row = Access.objects.filter(resource_code=fa.CIVIL, found=0).get()
    assert row.mode == "prefill" and row.items == ["name"]
    with pytest.raises(InvalidInput):
        selfservice.fetch_own(actor, citizen.id_number, fa.CIVIL, ["name"], department_code="")
