"""Presenting a credential from the wallet in an application (免证办), and redeeming it.

Decision: a **signed reference token**, not a W3C Verifiable Presentation. A VP's proof is
meant to be the *holder's* signature (holder binding); holders here have no key, so a VP signed
by the platform "on the holder's behalf" would claim a binding it cannot prove. What the platform
can honestly assert is: "the signed-in holder of credential X chose to present it to audience Y
for purpose Z, until T". That is the token:

* a JWT (joserfc, the package's JWS registry) signed with the node's presentation key
  (``credential-presentation.pem``; not in the trust list, since only this node redeems it),
  header ``typ: tongban-presentation+jwt``;
* claims ``iss`` (this node), ``jti`` (the ``Presentation`` row), ``sub`` (the holder's subject
  id, the keyed hash also in the credential, never the ID number), ``cid`` (credential id),
  ``ctype`` (certificate type), ``aud`` (e.g. ``onestop:<item code>``), ``purpose``, ``iat``,
  ``exp`` (``PRESENTATION_TTL``, 10 minutes).

The token carries no personal data and is useless elsewhere; the receiving service gets the
credential itself (its VC-JWT and fields) from ``redeem_presentation``, which checks signature,
audience, expiry, that the row matches the token, that the credential is still valid (not
revoked, suspended or expired, and still verifies against this node's trust list), and that the
token was not redeemed before: one-time use is a conditional ``UPDATE ... WHERE redeemed_at IS
NULL``, so of two concurrent redemptions exactly one wins. Only the holder may present their own
credential. Each presentation and each redemption is a ledger entry, naming the holder only
through ``subject_ids``; a redemption also appears in the holder's "who verified" list.
Both run in the caller's transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import time
import uuid

from django.utils import timezone
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError

from tongban.core.errors import Conflict, InvalidInput, PermissionDenied
from tongban.credentials import issuer_keys
from tongban.credentials.keys import JWS_REGISTRY
from tongban.credentials.models import Credential, Presentation, Verification
from tongban.credentials.services.common import subject_id
from tongban.credentials.services.issuing import my_credential
from tongban.credentials.services.verifying import verify
from tongban.identity.access import Actor
from tongban.identity.models import Department
from tongban.ledger import services as ledger

PRESENTATION_TTL = 600
PRESENTATION_TYP = "tongban-presentation+jwt"
MAX_TOKEN = 4096
LEEWAY = 5
AUDIENCE = re.compile(r"[a-z][a-z0-9_-]{0,30}:[A-Za-z0-9_.:-]{1,80}\Z")


def _invalid(detail: str = "") -> InvalidInput:
    return InvalidInput("出示凭据无效", "The presentation token is invalid", code="invalid_presentation",
                        details={"reason": detail} if detail else None)


def _check_usable(credential: Credential, now: dt.datetime) -> None:
    if credential.revoked_at:
        raise Conflict("证照已被吊销", "The credential has been revoked", code="credential_revoked")
    if credential.suspended:
        raise Conflict("证照已被暂停使用", "The credential is suspended", code="credential_suspended")
    if credential.valid_until is not None and credential.valid_until < now:
        raise Conflict("证照已过期", "The credential has expired", code="credential_expired")


def present(actor: Actor, credential_id, *, audience: str, purpose: str) -> Presentation:
    """The holder presents one of their credentials to ``audience`` for ``purpose``.

    Answers the ``Presentation`` row with ``token`` (the signed reference token) set on it.
    """
    credential = my_credential(actor, credential_id)  # only the holder; NotFound for anyone else's
    audience = (audience or "").strip()
    purpose = " ".join((purpose or "").split())
    if not AUDIENCE.match(audience):
        raise InvalidInput("出示对象无效", "Invalid audience (e.g. onestop:<item code>)", code="invalid_audience")
    if not purpose or len(purpose) > 200:
        raise InvalidInput("请说明用途（最多 200 字）", "Give the purpose (at most 200 characters)",
                           code="invalid_purpose")
    now = timezone.now().replace(microsecond=0)
    _check_usable(credential, now)
    presentation = Presentation.objects.create(
        credential=credential, audience=audience, purpose=purpose, presented_by=actor.username, created_at=now,
        expires_at=now + dt.timedelta(seconds=PRESENTATION_TTL))
    key = issuer_keys.presentation_key()
    claims = {"iss": issuer_keys.base_url(), "jti": str(presentation.pk), "sub": subject_id(credential.holder_identifier),
              "cid": str(credential.pk), "ctype": credential.type.code, "aud": audience, "purpose": purpose,
              "iat": int(now.timestamp()), "exp": int(presentation.expires_at.timestamp())}
    presentation.token = jwt.encode({"alg": key.alg, "kid": key.kid, "typ": PRESENTATION_TYP}, claims, key.jose_key,
                                    registry=JWS_REGISTRY)
    ledger.record(actor=actor.username, action="credentials.presented", subject=f"credential:{credential.pk}",
                  payload={"type": credential.type.code, "audience": audience, "purpose": purpose,
                           "presentation": str(presentation.pk), "expires_at": presentation.expires_at.isoformat()},
                  subject_ids=[credential.holder_identifier])
    return presentation


def _open(token: str, audience: str, now: float) -> dict:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise _invalid("not a compact JWS")
    key = issuer_keys.presentation_key().public_key()
    try:
        opened = jwt.decode(token.strip(), key.jose_key, registry=JWS_REGISTRY)
    except (JoseError, ValueError, TypeError, UnicodeError) as exc:
        raise _invalid(type(exc).__name__) from None
    if opened.header.get("typ") != PRESENTATION_TYP or opened.header.get("kid") != key.kid:
        raise _invalid("not a presentation token of this node")
    claims = opened.claims
    registry = jwt.JWTClaimsRegistry(
        now=int(now), leeway=LEEWAY, iss={"essential": True, "value": issuer_keys.base_url()},
        exp={"essential": True}, jti={"essential": True}, sub={"essential": True}, aud={"essential": True})
    try:
        registry.validate(claims)
    except ExpiredTokenError:
        raise InvalidInput("出示凭据已过期", "The presentation token has expired", code="presentation_expired") from None
    except (MissingClaimError, InvalidClaimError, JoseError) as exc:
        raise _invalid(str(exc)) from None
    if claims.get("aud") != audience:
        raise PermissionDenied("出示凭据不是出示给本事项的", "The presentation is for another audience",
                               code="presentation_wrong_audience")
    return claims


def redeem_presentation(token: str, *, audience: str, actor: Actor | None = None,
                        now: float | None = None) -> Credential:
    """The credential a holder presented to ``audience`` (e.g. ``onestop:<item code>``), once.

    Called by the receiving service (the one-stop app) in its transaction; ``actor`` is who acts
    there (for the ledger and the holder's view), else ``system:<audience prefix>``.
    """
    now = time.time() if now is None else now
    claims = _open(token, audience, now)
    try:
        presentation_id = uuid.UUID(str(claims["jti"]))
    except ValueError:
        raise _invalid("jti") from None
    row = (Presentation.objects.select_related("credential", "credential__type", "credential__citizen",
                                               "credential__enterprise")
           .filter(pk=presentation_id).first())
    if row is None or row.audience != audience or str(row.credential_id) != claims.get("cid"):
        raise _invalid("no such presentation")
    credential = row.credential
    if subject_id(credential.holder_identifier) != claims.get("sub"):
        raise _invalid("the holder does not match")
    if row.redeemed_at is not None:
        raise Conflict("出示凭据已被使用", "The presentation token was already used", code="presentation_used")
    _check_usable(credential, dt.datetime.fromtimestamp(now, dt.UTC))
    result = verify(credential.vc_jwt, now=now)
    if not result.valid:
        failure = result.first_failure or {}
        raise Conflict("证照未通过核验", "The credential does not verify", code="credential_invalid",
                       details={"check": failure.get("code"), "reason": failure.get("reason")})
    by = actor.username if actor is not None and actor.is_authenticated else f"system:{audience.split(':', 1)[0]}"
    used = Presentation.objects.filter(pk=row.pk, redeemed_at__isnull=True).update(
        redeemed_at=dt.datetime.fromtimestamp(now, dt.UTC), redeemed_by=by)
    if not used:  # a concurrent redemption won
        raise Conflict("出示凭据已被使用", "The presentation token was already used", code="presentation_used")
    department = None
    if actor is not None and actor.department_id:
        department = Department.objects.filter(pk=actor.department_id).first()
    Verification.objects.create(credential=credential, verifier=by if actor is not None else audience,
                                department=department.name if department else "", valid=True)
    ledger.record(actor=by, action="credentials.presentation_redeemed", subject=f"credential:{credential.pk}",
                  payload={"type": credential.type.code, "audience": audience, "presentation": str(row.pk)},
                  department=actor.department_code if actor is not None else None,
                  subject_ids=[credential.holder_identifier])
    return credential
