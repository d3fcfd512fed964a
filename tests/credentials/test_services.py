"""Issuing, status changes, verification and trust lists against the database."""

from __future__ import annotations

import time

import pytest

from tests.credentials.factories import licence_type, marriage_type, official
from tests.identity.factories import make_citizen, make_department, make_enterprise
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.credentials import services
from tongban.credentials.keys import Ed25519SigningKey
from tongban.credentials.models import Credential, Verification
from tongban.credentials.trustlist import build_trust_list, issuer_entry, sign_trust_list
from tongban.credentials.vc import format_datetime, issue_vc_jwt
from tongban.identity.access import ANONYMOUS, actor_for_user
from tongban.ledger.models import LedgerEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cred_env")]


@pytest.fixture
def civil():
    return make_department("civil")


@pytest.fixture
def clerk(civil):
    marriage_type(civil)
    return official("civil-clerk", civil)


def _issue(clerk, citizen=None):
    citizen = citizen or make_citizen("李四")
    return services.issue_credential(clerk, "marriage", citizen.id_number, {"spouse_name": "王五"})


def test_issue_then_verify_both_forms(clerk):
    credential = _issue(clerk)
    assert credential.vc_jwt.count(".") == 2 and credential.qr_text.startswith("TB1:")
    for text in (credential.vc_jwt, credential.qr_text):
        result = services.verify(text)
        assert result.valid, result.checks
    claims = services.verify(credential.vc_jwt).claims
    subject = claims["credentialSubject"]
    assert subject["name"] == "李四" and "*" in subject["identifier"]
    assert credential.citizen.id_number not in credential.vc_jwt
    assert subject["id"].startswith("urn:tongban:subject:")


def test_issue_records_ledger_entry_without_identifier(clerk):
    credential = _issue(clerk)
    event = LedgerEvent.objects.get(action="credentials.issued")
    assert event.subject == f"credential:{credential.pk}"
    assert credential.citizen.id_number.encode() not in bytes(event.entry)
    assert event.subject_hashes.count() == 1


def test_revoked_fails_not_revoked(clerk):
    credential = _issue(clerk)
    services.revoke(clerk, credential.pk)
    result = services.verify(credential.qr_text)
    assert not result.valid
    assert result.checks["not_revoked"]["ok"] is False and result.checks["not_revoked"]["code"] == "revoked"
    assert result.checks["signature"]["ok"]
    assert LedgerEvent.objects.filter(action="credentials.revoked").count() == 1
    with pytest.raises(Conflict):
        services.revoke(clerk, credential.pk)


def test_suspended_then_lifted(clerk):
    credential = _issue(clerk)
    services.suspend(clerk, credential.pk)
    result = services.verify(credential.vc_jwt)
    assert not result.valid and result.checks["not_suspended"]["code"] == "suspended"
    services.lift(clerk, credential.pk)
    assert services.verify(credential.vc_jwt).valid
    actions = set(LedgerEvent.objects.values_list("action", flat=True))
    assert {"credentials.suspended", "credentials.suspension_lifted"} <= actions


def test_indexes_are_distinct(clerk):
    first, second = _issue(clerk), _issue(clerk)
    assert first.revocation_index != second.revocation_index
    services.revoke(clerk, first.pk)
    assert services.verify(second.vc_jwt).valid


def test_wrong_role_and_kind_refused(civil, clerk):
    citizen = make_citizen()
    auditor = official("civil-auditor", civil, ["auditor"])
    with pytest.raises(PermissionDenied):
        services.issue_credential(auditor, "marriage", citizen.id_number, {"spouse_name": "x"})


def test_other_department_cannot_issue_or_revoke(clerk):
    credential = _issue(clerk)
    other = official("market-clerk", make_department("market"))
    with pytest.raises(NotFound):
        services.issue_credential(other, "marriage", make_citizen().id_number, {"spouse_name": "x"})
    with pytest.raises(NotFound):
        services.revoke(other, credential.pk)


def test_fields_are_validated_and_duplicates_refused(clerk):
    citizen = make_citizen()
    with pytest.raises(InvalidInput) as missing:
        services.issue_credential(clerk, "marriage", citizen.id_number, {"colour": "red"})
    assert set(missing.value.details) == {"colour", "spouse_name"}
    services.issue_credential(clerk, "marriage", citizen.id_number, {"spouse_name": "王五"})
    with pytest.raises(Conflict):
        services.issue_credential(clerk, "marriage", citizen.id_number, {"spouse_name": "王五"})


def test_enterprise_licence_has_expiry():
    market = make_department("market")
    licence_type(market)
    clerk = official("m-clerk", market)
    enterprise = make_enterprise()
    credential = services.issue_credential(clerk, "business_licence", enterprise.uscc, {})
    assert credential.valid_until is not None
    assert services.verify(credential.qr_text).checks["not_expired"]["ok"]


def test_verification_by_signed_in_official_is_recorded(clerk, civil):
    credential = _issue(clerk)
    verifier = official("health-checker", make_department("health"), ["clerk"])
    services.record_verification(verifier, services.verify(credential.vc_jwt))
    assert Verification.objects.get(credential=credential).verifier == "health-checker"
    assert LedgerEvent.objects.filter(action="credentials.verified").exists()
    services.record_verification(ANONYMOUS, services.verify(credential.vc_jwt))  # anonymous: not recorded
    services.record_verification(verifier, services.verify("TB1:garbage"))  # nothing verified: not recorded
    assert Verification.objects.count() == 1


def test_tampered_and_oversized(clerk):
    credential = _issue(clerk)
    head, payload, sig = credential.vc_jwt.split(".")
    tampered = ".".join([head, payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB"), sig])
    assert not services.verify(tampered).valid
    result = services.verify("x" * 20000)
    assert result.checks["format"]["code"] == "oversized"


def _region_b():
    root, key = Ed25519SigningKey.generate(), Ed25519SigningKey.generate()
    issuer = "https://tongban.820000/issuers/health"
    now = time.time()
    doc = build_trust_list("820000", [issuer_entry(issuer, key, department="澳门卫生局")], region_name="澳门",
                           valid_until=now + 86400 * 30, issued_at=now - 60)
    token = sign_trust_list(doc, root)
    vc = issue_vc_jwt({
        "@context": ["https://www.w3.org/ns/credentials/v2"], "id": "urn:uuid:11111111-2222-4333-8444-555555555555",
        "type": ["VerifiableCredential", "TongbanCertificate"], "issuer": issuer,
        "validFrom": format_datetime(now - 30), "credentialSubject": {"name": "陈大文"}}, key)
    return root, token, vc


def test_two_regions_import_and_remove():
    bureau_dept = make_department("bureau", is_bureau=True)
    bureau = official("bureau-admin", bureau_dept, ["bureau_admin"])
    root, token, vc = _region_b()
    before = services.verify(vc)
    assert not before.valid and before.checks["issuer_trusted"]["code"] == "untrusted_issuer"
    services.import_trust_list(bureau, token, root.public_key().public_jwk(), "820000")
    assert services.verify(vc).valid
    services.remove_region(bureau, "820000")
    assert not services.verify(vc).valid
    assert LedgerEvent.objects.filter(action="credentials.trust_list_imported").exists()


def test_import_checks_the_pinned_root_and_role():
    bureau = official("bureau-admin", make_department("bureau", is_bureau=True), ["bureau_admin"])
    _, token, _ = _region_b()
    with pytest.raises(InvalidInput) as wrong:
        services.import_trust_list(bureau, token, Ed25519SigningKey.generate().public_key().public_jwk())
    assert wrong.value.code == "trust_list_bad_signature"
    root, token, _ = _region_b()
    not_bureau = official("market-admin", make_department("market"), ["bureau_admin"])
    with pytest.raises(PermissionDenied):
        services.import_trust_list(not_bureau, token, root.public_key().public_jwk())


def test_published_trust_list_opens_with_root_key(clerk):
    from tongban.credentials.trustlist import open_trust_list

    opened = open_trust_list(services.published_trust_list(), services.root_public_jwk(), region="330000")
    assert any(i.issuer.endswith("/issuers/civil") for i in opened.issuers)
    assert opened.status_origins == ("https://tongban.330000",)  # where other nodes fetch our status lists


def test_my_credentials_only_mine(clerk):
    from tests.identity.factories import make_citizen_user

    me = make_citizen_user("me-holder", "赵六")
    other = make_citizen_user("other-holder", "钱七")
    mine = _issue(clerk, me.citizen)
    _issue(clerk, other.citizen)
    assert [c.pk for c in services.my_credentials(actor_for_user(me))] == [mine.pk]
    assert Credential.objects.count() == 2


def test_keys_are_private_files(clerk, cred_env):
    _issue(clerk)
    files = list(cred_env.glob("credential-*.pem"))
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
