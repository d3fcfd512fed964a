"""Instant approval (秒批): rules as versioned data checked against the item's variables, tried on
samples, and applied at submission (pass: approved and completed with the certificate; fail:
submitted with the reasons for the clerk)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.core.errors import InvalidInput, NotFound, PermissionDenied
from tongban.credentials import services as credentials
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import InstantRule
from tongban.onestop.services import applications as apps
from tongban.onestop.services import rules, uploads

pytestmark = pytest.mark.django_db

MARRIED = {"==": [{"var": "data.civil-00001.marital_status"}, "20"]}
RULE = {"and": [MARRIED, {">=": [{"var": "form.years"}, 3]}, {"!!": {"var": "wallet.marriage_certificate"}}]}
FORM = [
    {"key": "name", "label": "姓名", "type": "text", "prefill": {"resource": fa.CIVIL, "item": "name"}},
    {"key": "years", "label": "居住年限", "type": "number", "required": True},
]


def instant_item(rule=RULE, certificate_type="residence_test_cert", **over):
    f.make_certificate_type("marriage_certificate", "civil", fields=[
        {"key": "spouse_name", "name": "配偶姓名", "data_element": "DE00002", "required": True}])
    return f.service_item("civil", form_schema=FORM, instant_rule=rule, certificate_type=certificate_type, materials=[
        {"source": "shared_data", "name": "婚姻登记信息", "resource_code": fa.CIVIL, "resource_items": ["marital_status"]},
        {"source": "certificate", "name": "结婚证", "certificate_type": "marriage_certificate", "necessity": "optional"},
    ], **over)


def applicant_with_records(married: bool = True, certificate: bool = True):
    user, citizen = f.citizen_applicant("陈七")
    fa.marriage_record(citizen, marital_status="20" if married else "10")
    if certificate:
        fa.credential(citizen, "marriage_certificate", {"spouse_name": "林晓燕"})
    return user, citizen


def test_variables_offered_by_an_item():
    item = instant_item()
    assert rules.variables(item) == {"form.name": "text", "form.years": "number",
                                     "data.civil-00001.name": None, "data.civil-00001.marital_status": None,
                                     "wallet.marriage_certificate": "boolean"}


def test_instant_approval_passes_completes_and_issues_the_certificate():
    item = instant_item()
    user, citizen = applicant_with_records()
    application, _ = fa.submitted(item, user, form={"years": "5"})
    assert application.status == "completed"
    result = application.rule_result
    assert result["version"] == 1 and result["passed"] is True
    assert [r["passed"] for r in result["reasons"]] == [True, True, True]
    assert result["reasons"][1]["condition"] == "居住年限 ≥ 3 (居住年限 = 5)"
    wallet = {c.type.code: c for c in credentials.my_credentials(f.actor(user))}
    assert str(wallet["residence_test_cert"].pk) == str(application.credential_id)
    moves = [(e.from_status, e.to_status, e.actor) for e in apps.timeline(application)][1:]
    assert moves == [("draft", "submitted", user.username), ("submitted", "approved", "system:instant-approval"),
                     ("approved", "completed", "system:instant-approval")]
    approved = apps.timeline(application)[2]
    assert approved.note.startswith("秒批规则第 1 版通过")
    submitted = LedgerEvent.objects.get(action="onestop.submitted")
    assert b'"rule_passed":true' in bytes(submitted.entry) and b'"rule_version":1' in bytes(submitted.entry)
    assert citizen.id_number.encode() not in bytes(submitted.entry)


def test_instant_approval_fails_to_the_clerk_with_reasons():
    item = instant_item()
    user, _ = applicant_with_records(married=False, certificate=False)
    application, _ = fa.submitted(item, user, form={"years": 2})
    assert application.status == "submitted"
    result = application.rule_result
    assert result["passed"] is False and result["version"] == 1
    assert [r["passed"] for r in result["reasons"]] == [False, False, False]
    assert result["reasons"][0]["condition"] == "婚姻状况 = 已婚 (婚姻状况 = 未婚)"  # item names, code-list labels
    assert [a.number for a in apps.clerk_queue(f.actor(f.clerk("civil")))] == [application.number]
    assert application.credential_id is None


def test_missing_data_never_passes(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    item = instant_item(rule=MARRIED, certificate_type="")
    user, _ = f.citizen_applicant()  # no record at all: the shared-data material is uploaded instead
    material = item.materials.get(source="shared_data")
    application = fa.start(user, item)
    uploads.add_upload(f.actor(user), application.number, material.pk,
                       SimpleUploadedFile("婚姻证明.pdf", b"%PDF-1.7\n...", content_type="application/pdf"))
    apps.save_form(f.actor(user), application.number, {"years": 9})
    submitted = apps.submit(f.actor(user), application.number)
    assert submitted.status == "submitted" and submitted.rule_result["passed"] is False
    assert submitted.rule_result["reasons"] == [  # the bound field has no government value
        {"condition": "无政府记录：name / no government record for name", "passed": False}]


def test_without_a_rule_submission_waits_for_the_clerk():
    application, _ = fa.submitted(f.service_item("civil"))
    assert application.status == "submitted" and application.rule_result is None


def test_a_certificate_already_held_completes_citing_it():
    item = instant_item(rule={"==": [1, 1]}, certificate_type="marriage_certificate")
    user, citizen = applicant_with_records()
    application, _ = fa.submitted(item, user, form={"years": 1})
    held = credentials.my_credentials(f.actor(user)).get()
    assert application.status == "completed" and str(application.credential_id) == str(held.pk)


def test_a_certificate_that_cannot_be_issued_leaves_it_approved():
    f.make_certificate_type("strict_cert", "civil", fields=[{"key": "licence_no", "name": "编号", "required": True}])
    item = instant_item(rule={"==": [1, 1]}, certificate_type="strict_cert")
    user, _ = applicant_with_records()
    application, _ = fa.submitted(item, user, form={"years": 1})
    assert application.status == "approved" and application.credential_id is None
    assert "证照未能签发" in apps.timeline(application)[-1].note


def test_set_rule_versions_validation_and_roles():
    item = instant_item()
    admin = f.actor(f.dept_admin("civil"))
    second = rules.set_rule(admin, item.code, MARRIED, "已婚即可")
    assert second.version == 2 and second.is_current
    assert list(InstantRule.objects.filter(item=item).values_list("version", "is_current")) == [(2, True), (1, False)]
    entry = LedgerEvent.objects.filter(action="onestop.rule_set").latest("id")
    assert b'"version":2' in bytes(entry.entry)
    with pytest.raises(InvalidInput) as unknown:
        rules.set_rule(admin, item.code, {"and": [{"==": [{"var": "form.agee"}, 1]},
                                                  {">": [{"var": "data.hr-00001.salary"}, 1]}]})
    problems = unknown.value.details["problems"]
    assert unknown.value.code == "invalid_rule"
    assert sorted(p["variable"] for p in problems) == ["data.hr-00001.salary", "form.agee"]
    with pytest.raises(InvalidInput) as mismatch:
        rules.set_rule(admin, item.code, {"==": [{"var": "form.years"}, "3"]})
    assert mismatch.value.details["problems"][0]["code"] == "type_mismatch"
    with pytest.raises(InvalidInput):
        rules.set_rule(admin, item.code, [MARRIED])
    with pytest.raises(PermissionDenied):
        rules.set_rule(f.actor(f.dept_admin("market")), item.code, MARRIED)
    with pytest.raises(PermissionDenied):
        rules.set_rule(f.actor(f.clerk("civil")), item.code, MARRIED)
    with pytest.raises(NotFound):
        rules.set_rule(admin, "nope", MARRIED)
    assert rules.current_rule(item).version == 2


def test_the_new_version_decides_the_next_submission():
    item = instant_item(certificate_type="")
    rules.set_rule(f.actor(f.steward("civil")), item.code, {">=": [{"var": "form.years"}, 10]}, "十年以上")
    user, _ = applicant_with_records()
    application, _ = fa.submitted(item, user, form={"years": 5})
    assert application.status == "submitted" and application.rule_result["version"] == 2


def test_test_rule_explains_without_storing():
    item = instant_item()
    sample = {"form": {"years": 4}, "data": {"civil-00001": {"marital_status": "20"}},
              "wallet": {"marriage_certificate": True}}
    editor = f.actor(f.steward("civil"))
    tried = rules.test_rule(RULE, sample, item_code=item.code, actor=editor)
    assert tried["passed"] is True and tried["problems"] == [] and len(tried["reasons"]) == 3
    broken = rules.test_rule({"nope": 1}, sample)
    assert broken["passed"] is False and broken["problems"][0]["code"] == "unknown_operator"
    unknown = rules.test_rule({"==": [{"var": "form.zzz"}, 1]}, sample, item_code=item.code, actor=editor)
    assert unknown["passed"] is False and unknown["problems"][0]["code"] == "unknown_variable"
    assert InstantRule.objects.filter(item=item).count() == 1
