"""The one-stop demo: ≥ 8 realistic published items (instant, parallel, fully prefilled benefit),
idempotent, and the DESIGN §7 guarantee — citizen-demo completes an instant-approval item with
an EMPTY form and gets a credential in the wallet."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from tongban.core.demo import DemoContext
from tongban.credentials import services as credentials
from tongban.credentials.models import CertificateType
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.identity.models import User
from tongban.ledger.models import LedgerEvent
from tongban.onestop import demo
from tongban.onestop.models import InstantRule, Material, ServiceItem
from tongban.onestop.services import guide as guides
from tongban.onestop.services import items

pytestmark = pytest.mark.django_db

TABLES = (ServiceItem, Material, InstantRule, CertificateType, LedgerEvent)


@pytest.fixture
def loaded(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.TONGBAN_KEYSTORE_DIR = tmp_path / "keystore"
    from tongban.credentials import issuer_keys

    issuer_keys._load.cache_clear()
    call_command("demo", stdout=io.StringIO())
    yield
    issuer_keys._load.cache_clear()


def test_demo_items_idempotent_and_section_7(loaded):
    first = [model.objects.count() for model in TABLES]
    demo.load(DemoContext(say=lambda _text: None))
    assert [model.objects.count() for model in TABLES] == first  # a second run adds nothing

    published = guides.search_items()
    assert len(published) >= 8
    assert all(item.legal_basis and item.conditions and item.materials.exists() for item in published)

    parallel = items.get_published_item(demo.PARALLEL_ITEM)
    assert parallel.department.code == "market"
    assert list(parallel.co_departments.values_list("code", flat=True)) == ["health"]

    citizen = actor_for_user(User.objects.get(username="citizen-demo"))
    benefit = guides.guide(items.get_published_item(demo.BENEFIT_ITEM), citizen)
    assert benefit["counts"]["to_provide"] == 0
    assert all(field["prefilled"] for field in benefit["form_fields"])

    # §7: the instant item, personalised for citizen-demo: nothing to type, nothing to provide.
    instant = items.get_published_item(demo.INSTANT_ITEM)
    assert instant.certificate_type and items.has_instant_approval(instant)
    personal = guides.guide(instant, citizen)
    assert personal["instant_approval"] and personal["counts"]["to_provide"] == 0
    assert all(field["prefill"] and field["prefilled"] for field in personal["form_fields"])
    assert all(m["not_needed"] for m in personal["materials"])
    assert {m["status"] for m in personal["materials"]} == {"records", "wallet"}
    generic = guides.guide(instant, ANONYMOUS)
    assert {m["status"] for m in generic["materials"]} == {"generic"}
    type_fields = {f["key"] for f in CertificateType.objects.get(code=instant.certificate_type).fields}
    assert type_fields <= {f["key"] for f in personal["form_fields"]}


def test_section_7_citizen_demo_completes_the_instant_item_with_an_empty_form(loaded, client, settings):
    from tongban.onestop.services import applications

    citizen = actor_for_user(User.objects.get(username="citizen-demo"))
    application = applications.start_application(citizen, demo.INSTANT_ITEM)
    application = applications.submit(citizen, application.number)  # nothing typed, nothing uploaded
    application.refresh_from_db()
    assert application.status == "completed"
    assert application.rule_result["passed"] and application.credential_id
    credential = credentials.my_credentials(citizen).get(pk=application.credential_id)
    assert credential.type.code == "marriage_record_certificate"
    assert credential.subject["spouse_name"] == "林晓燕" and credential.subject["marital_status"] == "20"
    assert credentials.verify(credential.qr_text).valid

    # The back office shows the completed application (read-only).
    settings.TONGBAN_MFA_REQUIRED = False
    boss = User.objects.get(username="bureau-admin")
    boss.is_superuser = True
    boss.save()
    client.force_login(boss)
    page = client.get(f"/admin/onestop/application/{application.pk}/change/")
    assert page.status_code == 200 and application.number in page.content.decode()
