"""免证办 by choice: the applicant picks which wallet credential to present for a certificate
material (services.wallet_use.choose_credential and the materials step of the wizard)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from tests.onestop import factories as f
from tests.onestop import factories_apps as fa
from tongban.core.errors import Conflict, InvalidInput, NotFound
from tongban.credentials import services as credentials
from tongban.credentials.models import Credential, Presentation, Verification
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Application
from tongban.onestop.services import wallet_use
from tongban.onestop.services.completion import issuer

pytestmark = pytest.mark.django_db
S = Application.Status
CERT = "wu_marriage"


@pytest.fixture(autouse=True)
def _settings(settings, tmp_path):
    settings.TONGBAN_MFA_REQUIRED = False
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def item():
    f.make_certificate_type(CERT, "civil", name="结婚证（测试）", multiple_allowed=True)
    f.make_certificate_type("wu_other", "civil", name="其他证照")
    return f.service_item("civil", name="婚育证明", materials=[
        {"source": "certificate", "name": "结婚证", "certificate_type": CERT},
        {"source": "upload", "name": "本人照片"},
    ])


@pytest.fixture
def applicant():
    return f.citizen_applicant("李四")


def _two(citizen) -> tuple[Credential, Credential]:
    older = fa.credential(citizen, CERT, {"note": "旧"})
    Credential.objects.filter(pk=older.pk).update(issued_at=timezone.now() - dt.timedelta(days=30))
    newer = fa.credential(citizen, CERT, {"note": "新"})
    return Credential.objects.get(pk=older.pk), newer


def _material(item):
    return item.materials.get(source="certificate")


def _choose(user, application, material, credential_id) -> Application:
    with transaction.atomic():
        return wallet_use.choose_credential(f.actor(user), application.number, material.pk, credential_id)


def test_choosing_one_of_two_records_it_with_presentation_and_redemption(item, applicant):
    user, citizen = applicant
    older, newer = _two(citizen)
    application = fa.start(user, item)
    material = _material(item)
    assert application.reused[str(material.pk)]["credential"] == str(newer.pk)  # the automatic pick
    before = LedgerEvent.objects.count()
    chosen = _choose(user, application, material, older.pk)
    application.refresh_from_db()
    assert application.reused[str(material.pk)] == {"source": "certificate", "credential": str(older.pk),
                                                    "type": CERT, "name": "结婚证（测试）", "chosen": True}
    assert application.reused_count == 1 == chosen.reused_count
    presentation = Presentation.objects.get(credential=older)
    assert presentation.audience == f"onestop:{item.code}" and presentation.purpose == "免证办 婚育证明"
    assert presentation.redeemed_at is not None
    assert Verification.objects.filter(credential=older, valid=True).count() == 1
    actions = list(LedgerEvent.objects.order_by("pk").values_list("action", flat=True)[before:])
    assert actions == ["credentials.presented", "credentials.presentation_redeemed", "onestop.credential_chosen"]
    # the auto-picked credential was never presented
    assert not Presentation.objects.filter(credential=newer).exists()


def test_someone_elses_credential_is_refused(item, applicant):
    user, _citizen = applicant
    application = fa.start(user, item)
    _other_user, other = f.citizen_applicant("王五")
    theirs = fa.credential(other, CERT, {"note": "x"})
    with pytest.raises(NotFound):
        _choose(user, application, _material(item), theirs.pk)
    with pytest.raises(NotFound):
        _choose(user, application, _material(item), "not-a-uuid")
    assert not Presentation.objects.exists()


def test_only_the_applicant_may_choose(item, applicant):
    user, citizen = applicant
    credential = fa.credential(citizen, CERT)
    application = fa.start(user, item)
    other_user, _other = f.citizen_applicant("王五")
    with pytest.raises(NotFound):
        _choose(other_user, application, _material(item), credential.pk)


@pytest.mark.parametrize("change", ["revoke", "suspend"])
def test_a_revoked_or_suspended_credential_is_refused(item, applicant, change):
    user, citizen = applicant
    good, bad = _two(citizen)
    application = fa.start(user, item)
    with transaction.atomic():
        getattr(credentials, change)(issuer(bad.type), bad.pk)
    with pytest.raises(Conflict) as caught:
        _choose(user, application, _material(item), bad.pk)
    assert caught.value.code == {"revoke": "credential_revoked", "suspend": "credential_suspended"}[change]
    application.refresh_from_db()
    assert "chosen" not in application.reused[str(_material(item).pk)]
    assert not Presentation.objects.exists()


def test_wrong_type_or_material_is_422(item, applicant):
    user, citizen = applicant
    other_type = fa.credential(citizen, "wu_other")
    fa.credential(citizen, CERT)
    application = fa.start(user, item)
    with pytest.raises(InvalidInput) as caught:
        _choose(user, application, _material(item), other_type.pk)
    assert caught.value.code == "wrong_certificate_type" and caught.value.status == 422
    upload = item.materials.get(source="upload")
    with pytest.raises(InvalidInput):
        _choose(user, application, upload, other_type.pk)
    foreign = f.service_item("civil", materials=[{"source": "certificate", "certificate_type": CERT}])
    with pytest.raises(NotFound):
        _choose(user, application, _material(foreign), other_type.pk)


def test_not_in_draft_is_409(item, applicant):
    user, citizen = applicant
    older, _newer = _two(citizen)
    application = fa.start(user, item)
    Application.objects.filter(pk=application.pk).update(status=S.SUBMITTED)
    with pytest.raises(Conflict) as caught:
        _choose(user, application, _material(item), older.pk)
    assert caught.value.code == "illegal_transition" and caught.value.status == 409


def test_page_shows_the_choice_only_with_two_or_more(client, item, applicant):
    user, citizen = applicant
    fa.credential(citizen, CERT)
    application = fa.start(user, item)
    client.force_login(user)
    url = reverse("onestop:apply-materials", args=[application.number])
    page = client.get(url)
    assert page.status_code == 200 and b'data-testid="choose-credential"' not in page.content
    assert b'data-state="wallet"' in page.content
    fa.credential(citizen, CERT)
    page = client.get(url)
    assert page.content.count(b'data-testid="credential-choice"') == 2


def test_page_post_chooses_and_shows_errors(client, item, applicant):
    user, citizen = applicant
    older, newer = _two(citizen)
    application = fa.start(user, item)
    material = _material(item)
    client.force_login(user)
    url = reverse("onestop:apply-materials", args=[application.number])
    response = client.post(url, {"action": "choose", "material": material.pk, "credential": str(older.pk)})
    assert response.status_code == 302 and response["Location"] == f"{url}#material-{material.pk}"
    application.refresh_from_db()
    assert application.reused[str(material.pk)]["credential"] == str(older.pk)
    page = client.get(url)
    assert f'value="{older.pk}" id="credential-{material.pk}-{older.pk}" data-testid="credential-choice" checked'.encode() \
        in page.content
    with transaction.atomic():
        credentials.revoke(issuer(newer.type), newer.pk)
    response = client.post(url, {"action": "choose", "material": material.pk, "credential": str(newer.pk)})
    assert response.status_code == 422
    response = client.post(url, {"action": "choose", "material": material.pk})
    assert response.status_code == 422


def test_the_choice_survives_submission_and_falls_back_when_revoked(item, applicant):
    from tongban.onestop.services import prefill

    user, citizen = applicant
    older, newer = _two(citizen)
    application = fa.start(user, item)
    material = _material(item)
    _choose(user, application, material, older.pk)
    application.refresh_from_db()
    # Submission re-matches the wallet: the chosen credential is kept while usable ...
    with transaction.atomic():
        prefill.refresh_certificates(f.actor(user), application)
    assert application.reused[str(material.pk)]["credential"] == str(older.pk)
    # ... and the newest usable one is taken again once the chosen one is revoked.
    Credential.objects.filter(pk=older.pk).update(revoked_at=timezone.now())
    with transaction.atomic():
        prefill.refresh_certificates(f.actor(user), application)
    assert application.reused[str(material.pk)]["credential"] == str(newer.pk)
