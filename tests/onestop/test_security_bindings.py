"""Security review fixes: bindings need a grant (and never 不予共享), prefill re-checks the grant,
officials see other departments' values masked, instant approval signs only government values,
and the rule tester is authorised."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.utils import timezone

from tests.exchange.factories import person_resource
from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tests.onestop.test_items import data as item_data
from tongban.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.credentials import services as credentials
from tongban.exchange.models import Access, Grant
from tongban.exchange.services import selfservice
from tongban.identity import tokens
from tongban.identity.access import ANONYMOUS
from tongban.onestop.services import applications as apps
from tongban.onestop.services import items as item_services
from tongban.onestop.services import prefill as prefilling
from tongban.onestop.services import rules

pytestmark = pytest.mark.django_db
HEALTH = "health-00001"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path


def market_item(resource_code: str, items=("name",)) -> dict:
    """A market item for citizens binding ``resource_code`` in a form field and a shared material."""
    f.make_certificate_type("marriage_certificate", "civil")
    return item_data(code="330000-market-T-0001", department="market", form_schema=[
        {"key": "name", "label": "姓名", "type": "text", "prefill": {"resource": resource_code, "item": items[0]}}],
        materials=[{"name": "记录", "source": "shared_data", "resource_code": resource_code,
                    "resource_items": list(items)}])


def problems(error) -> dict[str, str]:
    return {p["field"]: p["code"] for p in error.value.details["errors"]}


# --- finding 1: binding another department's resource ----------------------------------------------------------


def test_a_department_cannot_bind_another_department_s_no_share_resource():
    person_resource("health", name="慢病管理信息", sharing="no_share", sharing_conditions="")  # health-00001
    market = f.actor(f.steward("market"))
    fa.grant("market", HEALTH, ["name"])  # even a grant row does not open a 不予共享 resource
    with pytest.raises(InvalidInput) as error:
        item_services.create_item(market, market_item(HEALTH))
    assert problems(error) == {"form_schema[0].prefill.resource": "resource_not_shared",
                               "materials[0].resource_code": "resource_not_shared"}


def test_binding_needs_an_active_query_grant_covering_the_items():
    fa.catalog_resource(fa.CIVIL, "civil")
    market = f.actor(f.steward("market"))
    with pytest.raises(InvalidInput) as error:
        item_services.create_item(market, market_item(fa.CIVIL, ("name", "marital_status")))
    assert problems(error) == {"form_schema[0].prefill.resource": "prefill_not_granted",
                               "materials[0].resource_code": "prefill_not_granted"}
    fa.grant("market", fa.CIVIL, ["name"])  # does not cover marital_status
    fa.grant("market", fa.CIVIL, ["name", "marital_status"], modes=["verify"])  # not query
    fa.grant("market", fa.CIVIL, ["name", "marital_status"], status="revoked")
    fa.grant("market", fa.CIVIL, ["name", "marital_status"], expires_at=timezone.now())
    with pytest.raises(InvalidInput) as error:
        item_services.create_item(market, market_item(fa.CIVIL, ("name", "marital_status")))
    assert problems(error) == {"materials[0].resource_code": "prefill_not_granted"}
    fa.grant("market", fa.CIVIL, ["marital_status"])
    item = item_services.create_item(market, market_item(fa.CIVIL, ("name", "marital_status")))
    # revoked before publishing: publish checks again
    Grant.objects.filter(consumer__code="market").update(status="revoked")
    with pytest.raises(InvalidInput) as error:
        item_services.publish(market, item.code)
    assert "prefill_not_granted" in problems(error).values()


def test_own_resources_need_no_grant():
    fa.catalog_resource(fa.CIVIL, "civil")
    f.make_certificate_type("marriage_certificate", "civil")
    item = item_services.create_item(f.actor(f.steward("civil")), item_data())
    assert item.form_schema[0]["prefill"] == {"resource": fa.CIVIL, "item": "name"}


def test_a_grant_revoked_after_publishing_means_no_prefill_and_no_read():
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen)
    item = fa.prefill_item("market")  # market holds grants for CIVIL and POP
    Grant.objects.filter(consumer__code="market", resource_code=fa.CIVIL).update(status="revoked")
    application = fa.start(user, item)
    assert "name" not in application.prefilled and "marital_status" not in application.prefilled
    assert not any(v["source"] == "shared_data" for v in application.reused.values())
    assert not Access.objects.filter(resource_code=fa.CIVIL).exists()  # nothing read, nothing logged
    assert apps.missing(application)  # the applicant provides it instead
    resource = selfservice.published_resource(fa.CIVIL)
    assert not selfservice.binding_allowed(item.department_id, resource, ["name"])
    assert selfservice.binding_allowed(resource.department_id, resource, ["name"])  # the provider itself


def test_officials_see_other_departments_values_masked_unless_cleared(client):
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen)
    item = fa.prefill_item("market")
    application = fa.start(user, item)
    application.status = "submitted"  # officials see submitted applications, not drafts
    application.save(update_fields=["status"])
    clerk = f.actor(f.clerk("market"))
    shown = prefilling.shown_to(clerk, application)
    assert shown["prefilled"]["name"]["value"] == "王*" and shown["form"]["name"] == "王*"
    assert shown["prefilled"]["marital_status"]["value"] == "20"  # not personal-sensitive: no mask rule
    own = prefilling.shown_to(f.actor(user), application)
    assert own["prefilled"]["name"]["value"] == "王五"
    with transaction.atomic():
        key = tokens.issue_user_token(f.clerk("market")).key
    body = client.get(f"/api/v1/onestop/applications/{application.number}",
                      HTTP_AUTHORIZATION=f"Bearer {key}").json()
    assert body["prefilled"]["name"]["value"] == "王*" and body["form"]["name"] == "王*"
    assert "王五" not in str(body)
    Grant.objects.filter(consumer__code="market", resource_code=fa.CIVIL).update(clear_items=["name"])
    assert prefilling.shown_to(clerk, application)["prefilled"]["name"]["value"] == "王五"


def test_the_implementing_department_sees_its_own_resource_in_clear():
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen)
    application = fa.start(user, fa.prefill_item("civil"))
    shown = prefilling.shown_to(f.actor(f.clerk("civil")), application)
    assert shown["prefilled"]["name"]["value"] == "王五"


# --- finding 2: instant approval signs government values only ----------------------------------------------------


CERT_FORM = [
    {"key": "name", "label": "姓名", "type": "text", "prefill": {"resource": fa.CIVIL, "item": "name"}},
    {"key": "spouse_name", "label": "配偶", "type": "text", "prefill": {"resource": fa.CIVIL, "item": "spouse_name"}},
]


def cert_item():
    f.make_certificate_type("record_cert", "civil", fields=[
        {"key": "name", "name": "姓名", "required": True}, {"key": "spouse_name", "name": "配偶姓名"}])
    fa.catalog_resource(fa.CIVIL, "civil")
    return f.service_item("civil", form_schema=CERT_FORM, certificate_type="record_cert",
                          instant_rule={"==": [{"var": "data.civil-00001.marital_status"}, "20"]}, materials=[
                              {"source": "shared_data", "name": "婚姻登记", "resource_code": fa.CIVIL,
                               "resource_items": ["marital_status"]}])


def test_a_bound_field_without_a_government_value_fails_instant_approval():
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen, spouse_name="")  # married, but no spouse name on record
    item = cert_item()
    application, _ = fa.submitted(item, user, form={"spouse_name": "随便填"})
    assert application.status == "submitted" and application.credential_id is None
    assert application.rule_result["passed"] is False
    assert application.rule_result["reasons"] == [
        {"condition": "无政府记录：spouse_name / no government record for spouse_name", "passed": False}]
    assert not credentials.my_credentials(f.actor(user)).exists()


def test_the_certificate_takes_the_record_value_fetched_at_submission():
    user, citizen = f.citizen_applicant("王五")
    record = fa.marriage_record(citizen, spouse_name="林晓燕")
    item = cert_item()
    application = fa.start(user, item)
    # the draft's copy is tampered with, and the record changes before submission
    application.form = {**application.form, "name": "假名字", "spouse_name": "假配偶"}
    application.prefilled["name"]["value"] = "假名字"
    application.save(update_fields=["form", "prefilled"])
    record.data = {**record.data, "spouse_name": "林晓燕（更正）"}
    record.save(update_fields=["data"])
    reads = Access.objects.filter(resource_code=fa.CIVIL).count()
    with transaction.atomic():
        done = apps.submit(f.actor(user), application.number)
    assert Access.objects.filter(resource_code=fa.CIVIL).count() == reads + 1  # one read per resource
    assert done.status == "completed"
    fields = credentials.my_credentials(f.actor(user)).get(type__code="record_cert").subject
    assert fields["name"] == "王五" and fields["spouse_name"] == "林晓燕（更正）"


def test_a_record_gone_by_submission_fails_instant_approval():
    user, citizen = f.citizen_applicant("王五")
    record = fa.marriage_record(citizen)
    item = cert_item()
    application = fa.start(user, item)
    record.data = {**record.data, "marital_status": "10"}
    record.save(update_fields=["data"])
    with transaction.atomic():
        done = apps.submit(f.actor(user), application.number)
    assert done.status == "submitted" and done.rule_result["passed"] is False and done.credential_id is None


# --- finding 4: the rule tester --------------------------------------------------------------------------------


def test_the_rule_tester_needs_an_actor_and_hides_drafts(client):
    published = f.service_item("civil")
    draft = f.service_item("civil", status="draft")
    logic, sample = {"==": [1, 1]}, {}
    with pytest.raises(PermissionDenied):
        rules.test_rule(logic, sample, item_code=published.code)
    with pytest.raises(NotAuthenticated):
        rules.test_rule(logic, sample, item_code=published.code, actor=ANONYMOUS)
    other = f.actor(f.steward("market"))
    assert rules.test_rule(logic, sample, item_code=published.code, actor=other)["passed"] is True
    with pytest.raises(NotFound):
        rules.test_rule(logic, sample, item_code=draft.code, actor=other)
    assert rules.test_rule(logic, sample, item_code=draft.code, actor=f.actor(f.steward("civil")))["passed"]
    url = f"/api/v1/onestop/items/{draft.code}/rules/test"
    assert client.post(url, {"logic": logic, "sample": sample}, content_type="application/json").status_code == 401
    with transaction.atomic():
        key = tokens.issue_user_token(f.steward("market")).key
    response = client.post(url, {"logic": logic, "sample": sample}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 404
