"""The applicant's side: starting (who may, numbers, one draft), the form, submission (listing
everything missing), withdrawal, and who may read an application."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound, PermissionDenied
from tongban.core.models import Notification
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Application
from tongban.onestop.services import applications as apps
from tongban.onestop.services import uploads

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def act(user):
    return f.actor(user)


def test_start_number_subject_and_ledger():
    item = f.service_item("civil")
    user, citizen = f.citizen_applicant()
    application = fa.start(user, item)
    assert re.fullmatch(r"330000-\d{8}-000001", application.number)
    assert application.status == "draft" and application.subject == citizen.id_number
    other, _ = f.citizen_applicant()
    second = fa.start(other, item)
    assert second.number.endswith("-000002")
    entry = LedgerEvent.objects.filter(action="onestop.started", subject=f"application:{application.number}").get()
    assert citizen.id_number.encode() not in bytes(entry.entry)
    assert [(e.from_status, e.to_status) for e in apps.timeline(application)] == [("", "draft")]


def test_who_may_start():
    item = f.service_item("civil")
    enterprise_item = f.service_item("market", applicant_kind="enterprise")
    user, _ = f.citizen_applicant()
    company, _ = f.enterprise_applicant()
    with pytest.raises(PermissionDenied) as wrong:
        apps.start_application(act(user), enterprise_item.code)
    assert wrong.value.code == "wrong_applicant_kind"
    assert apps.start_application(act(company), enterprise_item.code).subject == company.enterprise.uscc
    with pytest.raises(PermissionDenied):
        apps.start_application(act(f.clerk("civil")), item.code)
    with pytest.raises(NotFound):
        apps.start_application(act(user), f.service_item("civil", status="draft").code)
    with pytest.raises(NotFound):
        apps.start_application(act(user), "nope")


def test_save_form_validates_types_and_keeps_prefilled_values():
    user, citizen = f.citizen_applicant("王五")
    fa.marriage_record(citizen)
    item = fa.prefill_item()
    application = fa.start(user, item)
    with pytest.raises(InvalidInput) as bad:
        apps.save_form(act(user), application.number, {"name": "别人", "years": "many", "moved_on": "2020-13-01",
                                                       "kind": "z", "agree": "maybe", "nope": 1, "reason": 5})
    fields = bad.value.details["fields"]
    assert bad.value.code == "invalid_form"
    assert {k: v["code"] for k, v in fields.items()} == {
        "name": "prefilled", "years": "invalid_number", "moved_on": "invalid_date", "kind": "invalid_choice",
        "agree": "invalid_boolean", "nope": "unknown_field", "reason": "invalid_text"}
    saved = apps.save_form(act(user), application.number, {"name": "王五", "years": "12.5", "moved_on": "2020-01-02",
                                                            "kind": "b", "agree": "on", "reason": " 养老 "})
    assert saved.form == {"name": "王五", "marital_status": "20", "years": 12.5, "moved_on": "2020-01-02", "kind": "b",
                          "agree": True, "reason": "养老"}
    cleared = apps.save_form(act(user), application.number, {"years": ""})  # partial: only years changes
    assert cleared.form["years"] is None and cleared.form["reason"] == "养老"
    other, _ = f.citizen_applicant()
    with pytest.raises(NotFound):
        apps.save_form(act(other), application.number, {"reason": "x"})


def test_submit_lists_everything_missing_at_once():
    user, _citizen = f.citizen_applicant()
    item = fa.prefill_item()
    application = fa.start(user, item)
    with pytest.raises(InvalidInput) as incomplete:
        apps.submit(act(user), application.number)
    error = incomplete.value
    assert error.code == "incomplete_application"
    assert set(error.details["fields"]) == {"name", "reason"}
    by_source = fa.materials(item)
    assert sorted(error.details["materials"]) == sorted(m.pk for s, m in by_source.items() if s != "form")
    assert Application.objects.get(pk=application.pk).status == "draft"


def test_submit_complete_application_after_upload():
    user, citizen = f.citizen_applicant("赵六")
    fa.marriage_record(citizen)
    item = fa.prefill_item()
    fa.credential(citizen, "marriage_certificate", {"spouse_name": "林"})
    application = fa.start(user, item)
    apps.save_form(act(user), application.number, {"reason": "申请"})
    with pytest.raises(InvalidInput) as one_left:
        apps.submit(act(user), application.number)
    assert [m["name"] for m in one_left.value.details["missing"]] == ["本人照片"]
    uploads.add_upload(act(user), application.number, fa.materials(item)["upload"].pk,
                       SimpleUploadedFile("照片.png", PNG, content_type="image/png"))
    submitted = apps.submit(act(user), application.number)
    assert submitted.status == "submitted" and submitted.submitted_at and submitted.rule_result is None
    assert submitted.reused_count == 2
    note = Notification.objects.filter(user=user, category="onestop.application").get()
    assert note.link == f"/me/applications/{application.number}/" and "办件已提交" in note.title_zh
    entry = LedgerEvent.objects.get(action="onestop.submitted")
    assert citizen.id_number.encode() not in bytes(entry.entry)
    with pytest.raises(Conflict) as twice:
        apps.submit(act(user), application.number)
    assert twice.value.code == "illegal_transition"
    assert twice.value.details == {"number": application.number, "from": "submitted", "to": "submitted"}
    with pytest.raises(Conflict) as frozen:
        apps.save_form(act(user), application.number, {"reason": "改"})
    assert frozen.value.code == "not_editable"


def test_a_new_draft_after_submission():
    item = f.service_item("civil")
    application, user = fa.submitted(item)
    fresh = fa.start(user, item)
    assert fresh.pk != application.pk and fresh.status == "draft"


@pytest.mark.parametrize("status", ["draft", "submitted"])
def test_withdraw_before_a_decision(status):
    item = f.service_item("civil")
    user, _ = f.citizen_applicant()
    application = fa.start(user, item)
    if status == "submitted":
        application, _ = fa.submitted(item, user)
    withdrawn = apps.withdraw(act(user), application.number)
    assert withdrawn.status == "withdrawn"
    assert LedgerEvent.objects.filter(action="onestop.withdrawn").count() == 1
    with pytest.raises(Conflict) as again:
        apps.withdraw(act(user), application.number)
    assert again.value.details["from"] == "withdrawn"


def test_withdraw_under_review_cancels_tasks_and_not_after_decision():
    application, user = fa.under_review()
    apps.withdraw(act(user), application.number)
    assert set(application.tasks.values_list("status", flat=True)) == {"cancelled"}
    refused, user2 = fa.submitted(f.service_item("civil"))
    apps.refuse(act(f.clerk("civil")), refused.number, "不符合条件")
    with pytest.raises(Conflict):
        apps.withdraw(act(user2), refused.number)
    with pytest.raises(NotFound):
        apps.withdraw(act(user2), application.number)  # not theirs


def test_who_reads_an_application():
    item = f.service_item("market", co_departments=("health",))
    user, _ = f.citizen_applicant()
    draft = fa.start(user, item)
    clerk = act(f.clerk("market"))
    assert apps.get_application(act(user), draft.number).pk == draft.pk
    with pytest.raises(NotFound):
        apps.get_application(clerk, draft.number)  # a draft is the applicant's alone
    with transaction.atomic():
        apps.save_form(act(user), draft.number, {"reason": "x"})
        apps.submit(act(user), draft.number)
    assert apps.get_application(clerk, draft.number).pk == draft.pk
    assert apps.get_application(act(f.approver("health")), draft.number).pk == draft.pk  # co-handling
    assert apps.get_application(act(f.bureau_admin()), draft.number).pk == draft.pk
    for outsider in (act(f.clerk("hr")), act(f.citizen_applicant()[0])):
        with pytest.raises(NotFound):
            apps.get_application(outsider, draft.number)
    with pytest.raises(NotAuthenticated):
        apps.get_application(f.actor(None), draft.number)


def test_my_applications():
    item = f.service_item("civil")
    user, _ = f.citizen_applicant()
    first = fa.start(user, item)
    other_item = f.service_item("civil")
    second = fa.start(user, other_item)
    fa.start(f.citizen_applicant()[0], item)
    assert [a.number for a in apps.my_applications(act(user))] == [second.number, first.number]
    with pytest.raises(PermissionDenied):
        apps.my_applications(act(f.clerk("civil")))
