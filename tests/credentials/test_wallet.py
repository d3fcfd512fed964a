"""Presenting a wallet credential in an application (免证办) and redeeming the presentation."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
from django.db import connection, transaction

from tests.credentials.factories import marriage_type, official
from tests.identity.factories import PASSWORD, make_citizen_user, make_department
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.credentials import services
from tongban.credentials.keys import Ed25519SigningKey
from tongban.credentials.models import Presentation, Verification
from tongban.identity.access import actor_for_user
from tongban.ledger.models import LedgerEvent

pytestmark = [pytest.mark.usefixtures("cred_env")]
AUDIENCE = "onestop:MZ-0001"


@pytest.fixture
def wallet():
    civil = make_department("civil")
    marriage_type(civil)
    clerk = official("civil-clerk", civil)
    holder, other = make_citizen_user("holder", "李四"), make_citizen_user("other", "王五")
    with transaction.atomic():  # the caller's transaction, as the API holds one
        credential = services.issue_credential(clerk, "marriage", holder.citizen.id_number, {"spouse_name": "王五"})
    return {"clerk": clerk, "holder": actor_for_user(holder), "other": actor_for_user(other), "credential": credential,
            "id_number": holder.citizen.id_number}


def _present(wallet, **changes):
    args = {"audience": AUDIENCE, "purpose": "办理婚姻登记相关事项", **changes}
    return services.present(wallet["holder"], wallet["credential"].pk, **args)


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.django_db
def test_present_then_redeem_once(wallet):
    presentation = _present(wallet)
    claims = _claims(presentation.token)
    assert claims["aud"] == AUDIENCE and claims["cid"] == str(wallet["credential"].pk)
    assert claims["exp"] - claims["iat"] == services.PRESENTATION_TTL == 600
    assert claims["sub"].startswith("urn:tongban:subject:")
    assert wallet["id_number"] not in json.dumps(claims)  # no identifier in the token
    onestop = official("onestop-clerk", make_department("onestop"))
    credential = services.redeem_presentation(presentation.token, audience=AUDIENCE, actor=onestop)
    assert credential.pk == wallet["credential"].pk and credential.vc_jwt
    row = Presentation.objects.get(pk=presentation.pk)
    assert row.redeemed_at is not None and row.redeemed_by == "onestop-clerk"
    assert Verification.objects.get(credential=credential).verifier == "onestop-clerk"  # the holder sees it
    with pytest.raises(Conflict) as again:
        services.redeem_presentation(presentation.token, audience=AUDIENCE)
    assert again.value.code == "presentation_used"
    for action in ("credentials.presented", "credentials.presentation_redeemed"):
        event = LedgerEvent.objects.get(action=action)
        assert event.subject == f"credential:{credential.pk}" and event.subject_hashes.count() == 1
        assert wallet["id_number"].encode() not in bytes(event.entry)


@pytest.mark.django_db
def test_only_the_holder_presents(wallet):
    with pytest.raises(NotFound):
        services.present(wallet["other"], wallet["credential"].pk, audience=AUDIENCE, purpose="冒用")
    with pytest.raises(PermissionDenied):
        services.present(wallet["clerk"], wallet["credential"].pk, audience=AUDIENCE, purpose="代办")
    assert not Presentation.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "code"), [({"audience": "not an audience"}, "invalid_audience"),
                                               ({"audience": ""}, "invalid_audience"),
                                               ({"purpose": "  "}, "invalid_purpose"),
                                               ({"purpose": "x" * 201}, "invalid_purpose")])
def test_audience_and_purpose_are_checked(wallet, changes, code):
    with pytest.raises(InvalidInput) as excinfo:
        _present(wallet, **changes)
    assert excinfo.value.code == code


@pytest.mark.django_db
def test_wrong_audience_expired_and_tampered(wallet):
    presentation = _present(wallet)
    with pytest.raises(PermissionDenied) as wrong:
        services.redeem_presentation(presentation.token, audience="onestop:OTHER-0002")
    assert wrong.value.code == "presentation_wrong_audience"
    with pytest.raises(InvalidInput) as late:
        services.redeem_presentation(presentation.token, audience=AUDIENCE, now=time.time() + 620)
    assert late.value.code == "presentation_expired"
    head, payload, signature = presentation.token.split(".")
    forged_claims = {**_claims(presentation.token), "aud": "onestop:OTHER-0002"}
    forged = base64.urlsafe_b64encode(json.dumps(forged_claims).encode()).rstrip(b"=").decode()
    for token in (f"{head}.{forged}.{signature}", "garbage", "a.b.c", "x" * 5000):
        with pytest.raises(InvalidInput) as bad:
            services.redeem_presentation(token, audience=AUDIENCE)
        assert bad.value.code == "invalid_presentation", token[:20]
    # Signed by some other key (e.g. another node's): refused.
    from joserfc import jwt

    from tongban.credentials.keys import JWS_REGISTRY

    stranger = Ed25519SigningKey.generate()
    alien = jwt.encode({"alg": "EdDSA", "kid": stranger.kid, "typ": "tongban-presentation+jwt"},
                       _claims(presentation.token), stranger.jose_key, registry=JWS_REGISTRY)
    with pytest.raises(InvalidInput):
        services.redeem_presentation(alien, audience=AUDIENCE)
    # None of that used the presentation up.
    assert services.redeem_presentation(presentation.token, audience=AUDIENCE).pk == wallet["credential"].pk


@pytest.mark.django_db
@pytest.mark.parametrize(("change", "code"), [("revoke", "credential_revoked"), ("suspend", "credential_suspended")])
def test_a_credential_revoked_or_suspended_after_presenting_is_refused(wallet, change, code):
    presentation = _present(wallet)
    getattr(services, change)(wallet["clerk"], wallet["credential"].pk)
    with pytest.raises(Conflict) as excinfo:
        services.redeem_presentation(presentation.token, audience=AUDIENCE)
    assert excinfo.value.code == code
    with pytest.raises(Conflict):  # nor can it be presented any more
        _present(wallet)


@pytest.mark.django_db
def test_an_expired_credential_is_refused(wallet):
    presentation = _present(wallet)
    credential = wallet["credential"]
    credential.valid_until = credential.issued_at
    credential.save(update_fields=["valid_until"])
    with pytest.raises(Conflict) as excinfo:
        services.redeem_presentation(presentation.token, audience=AUDIENCE)
    assert excinfo.value.code == "credential_expired"


@pytest.mark.django_db
def test_present_through_the_api(wallet, client, settings):
    settings.TONGBAN_MFA_REQUIRED = False
    token = client.post("/api/v1/auth/token", data=json.dumps({"username": "holder", "password": PASSWORD}),
                        content_type="application/json").json()["access_token"]
    path = f"/api/v1/me/credentials/{wallet['credential'].pk}/present"
    body = json.dumps({"audience": AUDIENCE, "purpose": "办理业务"})
    response = client.post(path, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201, response.content
    answer = response.json()
    assert answer["audience"] == AUDIENCE and answer["credential"] == str(wallet["credential"].pk)
    assert services.redeem_presentation(answer["token"], audience=AUDIENCE).pk == wallet["credential"].pk
    other = client.post("/api/v1/auth/token", data=json.dumps({"username": "other", "password": PASSWORD}),
                        content_type="application/json").json()["access_token"]
    refused = client.post(path, data=body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {other}")
    assert refused.status_code == 404
    assert client.post(path, data=body, content_type="application/json").status_code == 401


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="SQLite serialises writers")
@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_one_wins_on_postgresql(wallet):
    with transaction.atomic():
        presentation = _present(wallet)
    barrier = threading.Barrier(2, timeout=10)
    outcomes: list[str] = []

    def redeem():
        try:
            barrier.wait()
            with transaction.atomic():
                services.redeem_presentation(presentation.token, audience=AUDIENCE)
            outcomes.append("redeemed")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["presentation_used", "redeemed"]
    assert LedgerEvent.objects.filter(action="credentials.presentation_redeemed").count() == 1
