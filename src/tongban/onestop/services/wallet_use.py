"""免证办 by choice: the applicant picks which wallet credential to present for a certificate material.

``prefill`` picks the newest valid credential of the material's type on its own. When the applicant
holds more than one, ``choose_credential`` lets them present a specific one instead: the credential
is presented to ``onestop:<item code>`` (``credentials.services.wallet.present``: only the holder,
only a usable credential) and redeemed at once by the one-stop service (``redeem_presentation``,
one-time, verified against the trust list, shown in the holder's "who verified" list); both write
their ledger entries, and the choice is one more entry (``onestop.credential_chosen``). The
material's entry in ``Application.reused`` then has the prefill shape plus ``"chosen": True``.

Runs in the caller's transaction.
"""

from __future__ import annotations

import uuid

from django.utils import timezone

from tongban.core.errors import Conflict, InvalidInput, NotFound
from tongban.credentials import services as credentials
from tongban.identity.access import Actor, require_kind
from tongban.onestop.models import Application, Material
from tongban.onestop.services import transitions
from tongban.onestop.services.applications import get_application
from tongban.onestop.services.completion import ISSUER

S = Application.Status
CHOOSABLE = (S.DRAFT, S.SUPPLEMENT_REQUESTED)


def _not_found() -> NotFound:
    return NotFound("没有这个办件", "No such application")


def usable_credentials(actor: Actor) -> dict[str, list]:
    """certificate type code -> the actor's usable credentials of it (active, not expired), newest first."""
    now = timezone.now()
    found: dict[str, list] = {}
    for credential in credentials.my_credentials(actor).order_by("-issued_at"):
        if credential.state == "active" and (credential.valid_until is None or credential.valid_until > now):
            found.setdefault(credential.type.code, []).append(credential)
    return found


def choose_credential(actor: Actor, number: str, material_id: int, credential_id) -> Application:
    """The applicant presents ``credential_id`` for the certificate material ``material_id``."""
    require_kind(actor, "citizen", "enterprise")
    if get_application(actor, number).applicant_id != actor.user_id:
        raise _not_found()
    application = transitions.locked(number)
    if application.status not in CHOOSABLE:
        raise Conflict(f"办件当前状态（{S(application.status).label}）不能再选择证照",
                       f"No credential can be chosen for an application in status {application.status}",
                       code="illegal_transition", details={"number": application.number, "from": application.status})
    item = application.item
    material = item.materials.filter(pk=material_id).first()
    if material is None:
        raise NotFound("本事项没有这项材料", "The service has no such material")
    if material.source != Material.Source.CERTIFICATE or not material.certificate_type:
        raise InvalidInput("这项材料不由证照提供", "This material is not provided by a certificate",
                           code="not_a_certificate_material", details={"material": material.pk})
    try:
        credential_id = uuid.UUID(str(credential_id))
    except ValueError:
        raise NotFound("没有这个证照", "No such credential") from None
    credential = credentials.my_credential(actor, credential_id)  # NotFound for anyone else's
    if credential.type.code != material.certificate_type:
        raise InvalidInput("证照类型与材料要求不符", "The credential is not of the certificate type this material needs",
                           code="wrong_certificate_type",
                           details={"material": material.pk, "expected": material.certificate_type,
                                    "given": credential.type.code})
    audience = f"onestop:{item.code}"
    presentation = credentials.present(actor, credential.pk, audience=audience, purpose=f"免证办 {item.name}")
    service = Actor(kind="system", username=ISSUER, department_id=item.department_id,
                    department_code=item.department.code)  # the one-stop service of the implementing department
    credential = credentials.redeem_presentation(presentation.token, audience=audience, actor=service)
    reused = dict(application.reused or {})
    reused[str(material.pk)] = {"source": "certificate", "credential": str(credential.pk),
                                "type": credential.type.code, "name": credential.type.name, "chosen": True}
    application.reused, application.reused_count = reused, len(reused)
    application.save(update_fields=["reused", "reused_count", "updated_at"])
    transitions.record(application, transitions.actor_name(actor), "credential_chosen", department=None,
                       payload={"material": material.pk, "credential": str(credential.pk),
                                "type": credential.type.code, "presentation": str(presentation.pk)})
    return application
