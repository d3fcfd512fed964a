"""The applicant's pages: the wizard (start/resume → form → materials → check → done) and my
applications with the timeline, through the Django test client."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from tests.exchange import factories_mydata as mine
from tests.exchange.factories import person_resource, person_row
from tests.onestop.factories import actor, citizen_applicant, clerk, service_item
from tests.onestop.factories_ratings import application as stored_application
from tests.onestop.factories_ratings import rated
from tongban.onestop.models import Application, Upload
from tongban.onestop.services import applications

pytestmark = pytest.mark.django_db
S = Application.Status
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def civil():
    return person_resource("civil")


@pytest.fixture
def citizen(civil):
    user, person = citizen_applicant("王小明")
    mine.records(civil, [person_row(1, id_number=person.id_number, name="王小明", address="杭州市西湖区文三路1号")])
    return user


@pytest.fixture
def item(civil):
    return service_item("civil", name="婚姻状况证明", promised_days=3, form_schema=[
        {"key": "name", "label": "姓名", "label_en": "Name", "type": "text", "required": True,
         "prefill": {"resource": civil.code, "item": "name"}},
        {"key": "address", "label": "住址", "label_en": "Address", "type": "text", "required": True,
         "prefill": {"resource": civil.code, "item": "address"}},
        {"key": "purpose", "label": "用途", "label_en": "Purpose", "type": "text", "required": True},
        {"key": "copies", "label": "份数", "label_en": "Copies", "type": "number", "required": False},
        {"key": "kind", "label": "类别", "label_en": "Kind", "type": "choice", "required": False,
         "options": [{"value": "first", "label": "首次"}, {"value": "again", "label": "补办"}]},
        {"key": "abroad", "label": "是否在境外使用", "type": "boolean", "required": False},
        {"key": "needed_by", "label": "需要日期", "type": "date", "required": False},
    ], materials=[
        {"source": "shared_data", "name": "婚姻登记记录", "resource_code": civil.code,
         "resource_items": ["marital_status"]},
        {"source": "certificate", "name": "结婚证", "certificate_type": "marriage_page_cert"},
        {"source": "upload", "name": "本人照片"},
    ])


def start(client, user, item) -> Application:
    client.force_login(user)
    response = client.post(f"/services/{item.code}/apply/")
    assert response.status_code == 302
    number = re.fullmatch(r"/me/applications/([^/]+)/form/", response["Location"]).group(1)
    return Application.objects.get(number=number)


def page(client, app, step="form"):
    return client.get(f"/me/applications/{app.number}/{step}/")


# --- start and the form -------------------------------------------------------------------------------------


def test_start_needs_a_login_and_resumes_the_draft(client, citizen, item):
    assert client.post(f"/services/{item.code}/apply/")["Location"].startswith("/accounts/login/")
    first = start(client, citizen, item)
    assert first.status == S.DRAFT and first.prefilled["name"]["value"] == "王小明"
    assert start(client, citizen, item).pk == first.pk  # resumed, not a second draft
    assert client.post("/services/no-such-item/apply/").status_code == 404
    official = clerk("civil")
    client.force_login(official)
    assert client.post(f"/services/{item.code}/apply/").status_code == 403


def test_a_get_never_starts_an_application_and_the_post_needs_the_csrf_token(citizen, item):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(citizen)
    response = client.get(f"/services/{item.code}/apply/")
    assert response.status_code == 302 and response["Location"] == f"/services/{item.code}/"
    assert client.post(f"/services/{item.code}/apply/").status_code == 403  # no token (cross-site)
    assert not Application.objects.exists()
    guide = client.get(f"/services/{item.code}/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', guide.content.decode()).group(1)
    response = client.post(f"/services/{item.code}/apply/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and Application.objects.count() == 1


def test_form_shows_prefilled_fields_read_only_with_their_source(client, citizen, item):
    app = start(client, citizen, item)
    body = page(client, app).content.decode()
    assert body.count('data-testid="prefilled-field"') == 2
    assert 'data-key="name"' in body and "王小明" in body and "杭州市西湖区文三路1号" in body
    assert body.count('data-testid="prefilled-badge"') == 2 and "civil 部门" in body  # the provider
    assert 'name="name"' not in body and 'name="address"' not in body  # nothing to type again
    assert 'name="purpose"' in body and 'type="number"' in body
    assert '<option value="again">补办</option>' in body


def test_posting_a_prefilled_field_does_not_change_it(client, citizen, item):
    app = start(client, citizen, item)
    response = client.post(f"/me/applications/{app.number}/form/",
                           {"name": "冒名", "address": "别处", "purpose": "出国留学", "action": "next"})
    assert response.status_code == 302 and response["Location"] == f"/me/applications/{app.number}/materials/"
    app.refresh_from_db()
    assert app.form["name"] == "王小明" and app.form["address"] == "杭州市西湖区文三路1号"
    assert app.form["purpose"] == "出国留学"


def test_save_and_resume_later(client, citizen, item):
    app = start(client, citizen, item)
    response = client.post(f"/me/applications/{app.number}/form/",
                           {"purpose": "出国留学", "copies": "2", "kind": "again", "abroad": "true",
                            "needed_by": "2027-01-15", "action": "later"}, follow=True)
    assert response.redirect_chain[-1][0] == "/me/applications/"
    body = response.content.decode()
    assert f'data-number="{app.number}"' in body and 'data-testid="resume-link"' in body
    assert 'data-status="draft"' in body
    resumed = start(client, citizen, item)
    assert resumed.pk == app.pk and resumed.form["copies"] == 2 and resumed.form["abroad"] is True
    body = page(client, resumed).content.decode()
    assert 'value="出国留学"' in body and 'value="2"' in body and '<option value="again" selected>' in body
    assert 'type="radio" name="abroad" id="input-abroad" value="true" checked' in body
    assert 'type="date" name="needed_by" id="input-needed_by" value="2027-01-15"' in body


def test_field_errors_are_shown_per_field_and_the_input_kept(client, citizen, item):
    app = start(client, citizen, item)
    response = client.post(f"/me/applications/{app.number}/form/",
                           {"purpose": "出国留学", "copies": "两份", "kind": "nonsense", "action": "next"})
    body = response.content.decode()
    assert response.status_code == 200 and 'data-testid="form-errors"' in body
    assert body.count("field-invalid") == 2
    assert 'href="#field-copies"' in body and 'href="#field-kind"' in body
    assert 'value="两份"' in body and 'value="出国留学"' in body
    app.refresh_from_db()
    assert "purpose" not in app.form or not app.form.get("purpose")  # nothing saved from a bad post


# --- materials ----------------------------------------------------------------------------------------------


def test_materials_show_their_source_and_take_uploads(client, citizen, item):
    app = start(client, citizen, item)
    body = page(client, app, "materials").content.decode()
    states = re.findall(r'data-testid="material" data-state="(\w+)" data-source="(\w+)"', body)
    assert states == [("shared", "shared_data"), ("missing", "certificate"), ("missing", "upload")]
    assert 'data-testid="get-it-link"' in body  # no such certificate in the wallet: where to get it
    assert body.count('data-testid="file-input"') == 2  # the certificate may be uploaded instead
    upload = [m for m in item.materials.all() if m.source == "upload"][0]
    url = f"/me/applications/{app.number}/materials/"
    bad = client.post(url, {"material": upload.pk, "file": SimpleUploadedFile("a.txt", b"plain text")})
    assert bad.status_code == 422 and "PDF" in bad.content.decode()
    none = client.post(url, {"material": upload.pk})
    assert none.status_code == 422
    good = client.post(url, {"material": upload.pk, "file": SimpleUploadedFile("照片.png", PNG, "image/png")})
    assert good.status_code == 302 and good["Location"].endswith(f"#material-{upload.pk}")
    body = page(client, app, "materials").content.decode()
    assert "照片.png" in body and ('data-state="uploaded" data-source="upload"') in body
    removed = client.post(url, {"material": upload.pk, "remove": Upload.objects.get().pk})
    assert removed.status_code == 302 and not Upload.objects.exists()


# --- check and submit ---------------------------------------------------------------------------------------


def test_submitting_an_incomplete_application_lists_everything_missing(client, citizen, item):
    app = start(client, citizen, item)
    check = page(client, app, "check").content.decode()
    assert 'data-testid="answers"' in check and "王小明" in check
    assert f'/me/applications/{app.number}/form/#field-purpose' in check  # change links
    response = client.post(f"/me/applications/{app.number}/check/")
    body = response.content.decode()
    assert response.status_code == 422 and 'data-testid="missing-summary"' in body
    assert body.count('data-testid="missing-item"') == 3  # purpose, certificate, photo: all at once
    materials = {m.source: m.pk for m in item.materials.all()}
    assert '/form/#field-purpose"' in body
    assert f'/materials/#material-{materials["certificate"]}"' in body
    assert f'/materials/#material-{materials["upload"]}"' in body
    app.refresh_from_db()
    assert app.status == S.DRAFT


def _complete(client, app, item):
    client.post(f"/me/applications/{app.number}/form/", {"purpose": "出国留学", "action": "next"})
    for material in item.materials.filter(source__in=("upload", "certificate")):
        client.post(f"/me/applications/{app.number}/materials/",
                    {"material": material.pk, "file": SimpleUploadedFile("scan.png", PNG, "image/png")})


def test_submit_confirms_with_number_and_what_happens_next_then_withdraw(client, citizen, item):
    app = start(client, citizen, item)
    _complete(client, app, item)
    response = client.post(f"/me/applications/{app.number}/check/")
    assert response.status_code == 302 and response["Location"] == f"/me/applications/{app.number}/done/"
    done = client.get(response["Location"]).content.decode()
    assert app.number in done and 'data-testid="promised-days"' in done and "/me/inbox/" in done
    assert 'data-testid="instant-approved"' not in done
    assert page(client, app)["Location"] == f"/me/applications/{app.number}/"  # no more editing
    detail = client.get(f"/me/applications/{app.number}/").content.decode()
    assert 'data-status="submitted"' in detail and detail.count('data-testid="timeline-step"') == 2
    assert 'data-testid="withdraw-button"' in detail and 'data-testid="rate-link"' not in detail
    response = client.post(f"/me/applications/{app.number}/withdraw/")
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == S.WITHDRAWN
    detail = client.get(f"/me/applications/{app.number}/").content.decode()
    assert 'data-testid="withdraw-button"' not in detail and detail.count('data-testid="timeline-step"') == 3
    assert client.post(f"/me/applications/{app.number}/withdraw/").status_code == 409


def test_instant_approval_says_so_at_once(client, citizen, civil):
    item = service_item("civil", instant_rule={"==": [{"var": "form.purpose"}, "出国留学"]}, form_schema=[
        {"key": "purpose", "label": "用途", "type": "text", "required": True}])
    app = start(client, citizen, item)
    client.post(f"/me/applications/{app.number}/form/", {"purpose": "出国留学"})
    done = client.get(client.post(f"/me/applications/{app.number}/check/")["Location"]).content.decode()
    assert 'data-testid="instant-approved"' in done and 'data-testid="promised-days"' not in done
    app.refresh_from_db()
    assert app.status in (S.APPROVED, S.COMPLETED)


# --- my applications ----------------------------------------------------------------------------------------


def test_supplement_request_is_listed_with_links_and_can_be_resubmitted(client, citizen, item):
    app = start(client, citizen, item)
    _complete(client, app, item)
    client.post(f"/me/applications/{app.number}/check/")
    photo = item.materials.get(source="upload")
    with transaction.atomic():
        applications.request_supplement(actor(clerk("civil")), app.number, [
            {"field": "purpose", "reason": "用途写得不具体"}, {"material": photo.pk, "reason": "照片看不清"}])
    detail = client.get(f"/me/applications/{app.number}/").content.decode()
    assert detail.count('data-testid="supplement-item"') == 2
    assert "用途写得不具体" in detail and "照片看不清" in detail
    assert f"/materials/#material-{photo.pk}" in detail and 'data-testid="resubmit-link"' in detail
    form = page(client, app).content.decode()
    assert 'data-testid="supplement-request"' in form and 'name="purpose"' in form
    client.post(f"/me/applications/{app.number}/form/", {"purpose": "赴英国留学申请签证"})
    response = client.post(f"/me/applications/{app.number}/check/")
    assert response.status_code == 302
    app.refresh_from_db()
    assert app.status == S.SUBMITTED and app.form["purpose"] == "赴英国留学申请签证"


def test_list_and_completed_application_link_the_certificate_and_the_rating(client, citizen, item):
    credential = "6f1c1f5e-3c5a-4c39-9a38-2f4d3c1f0a11"
    done = stored_application(item, citizen, status=S.COMPLETED, credential_id=credential)
    stored_application(item, citizen, status=S.UNDER_REVIEW)
    client.force_login(citizen)
    listing = client.get("/me/applications/").content.decode()
    assert listing.count('data-testid="application-row"') == 2
    assert 'data-status="completed"' in listing and 'data-status="under_review"' in listing
    detail = client.get(f"/me/applications/{done.number}/").content.decode()
    assert f"/me/credentials/#credential-{credential}" in detail
    assert f'href="/me/applications/{done.number}/rate/"' in detail
    assert 'data-testid="withdraw-button"' not in detail
    rated(done)
    assert 'data-testid="rate-link"' not in client.get(f"/me/applications/{done.number}/").content.decode()


def test_only_the_right_kind_of_applicant_may_apply(client, citizen, civil):
    for_enterprises = service_item("market", applicant_kind="enterprise")
    client.force_login(citizen)
    assert client.post(f"/services/{for_enterprises.code}/apply/").status_code == 403
    assert not Application.objects.exists()
    client.force_login(clerk("civil"))
    assert client.get("/me/applications/").status_code == 403


def test_another_citizens_application_is_not_found(client, citizen, item):
    app = start(client, citizen, item)
    stranger, _ = citizen_applicant("李四")
    client.force_login(stranger)
    for step in ("", "form/", "materials/", "check/", "done/"):
        assert client.get(f"/me/applications/{app.number}/{step}").status_code == 404, step
    assert client.post(f"/me/applications/{app.number}/check/").status_code == 404
    assert client.post(f"/me/applications/{app.number}/withdraw/").status_code == 404
    assert client.post(f"/me/applications/{app.number}/form/", {"purpose": "x"}).status_code == 404
    assert 'data-testid="no-applications"' in client.get("/me/applications/").content.decode()
    app.refresh_from_db()
    assert app.status == S.DRAFT and not app.form.get("purpose")
