"""Prefill and 免证办: what the government already holds is taken, not asked for.

When an application starts (``prefill``):

* every resource the item binds — form fields with ``prefill: {"resource", "item"}`` and
  materials of source ``shared_data`` (their ``resource_items``) — is read ONCE through the
  exchange's self-service read (``exchange.services.selfservice.fetch_own``: the applicant's own
  record, purpose "本人办事 self-service", logged as an access the applicant sees in "my data");
* bound form fields get the value: ``Application.prefilled[field] = {"value", "resource",
  "item"}`` (and the same value in ``form``), shown as "from government records", not editable;
* a ``shared_data`` material is satisfied when the record exists:
  ``reused[material id] = {"source": "shared_data", "resource", "items", "values"}``;
* a ``certificate`` material is satisfied when the applicant's wallet holds a valid credential of
  that type (not revoked, not suspended, not expired):
  ``reused[material id] = {"source": "certificate", "credential", "type", "name"}``
  (checked again at submission: ``refresh_certificates``).

``reused_count`` counts the reused materials. The fetched values are kept (in ``prefilled`` and
``reused``): the instant-approval rule later reads exactly what the applicant was shown.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tongban.credentials import services as credentials
from tongban.exchange.services import selfservice
from tongban.identity.access import Actor
from tongban.onestop.models import Application, Material, ServiceItem

PURPOSE = "本人办事 self-service"


def bindings(item: ServiceItem, materials: list[Material] | None = None) -> dict[str, list[str]]:
    """resource code -> the item keys the service item reads from it (form prefill + shared materials)."""
    found: dict[str, list[str]] = {}
    for field in item.form_schema or []:
        prefill = field.get("prefill") if isinstance(field, dict) else None
        if isinstance(prefill, dict) and prefill.get("resource") and prefill.get("item"):
            keys = found.setdefault(str(prefill["resource"]), [])
            if prefill["item"] not in keys:
                keys.append(str(prefill["item"]))
    for material in materials if materials is not None else item.materials.all():
        if material.source == Material.Source.SHARED_DATA and material.resource_code:
            keys = found.setdefault(material.resource_code, [])
            for key in material.resource_items or []:
                if key not in keys:
                    keys.append(str(key))
    return found


def valid_credentials(actor: Actor) -> dict[str, Any]:
    """certificate type code -> the newest usable credential in the actor's wallet."""
    now = timezone.now()
    usable: dict[str, Any] = {}
    for credential in credentials.my_credentials(actor).order_by("-issued_at"):
        if credential.state != "active" or (credential.valid_until is not None and credential.valid_until <= now):
            continue
        usable.setdefault(credential.type.code, credential)
    return usable


def _certificate_entry(credential) -> dict[str, Any]:
    return {"source": "certificate", "credential": str(credential.pk), "type": credential.type.code,
            "name": credential.type.name}


def prefill(actor: Actor, application: Application) -> None:
    """Fill ``prefilled``, ``form``, ``reused`` and ``reused_count`` of a new application (unsaved)."""
    item = application.item
    materials = list(item.materials.all())
    fetched: dict[str, dict[str, Any] | None] = {}
    for resource_code, keys in bindings(item, materials).items():
        fetched[resource_code] = selfservice.fetch_own(
            actor, application.subject, resource_code, keys, purpose=PURPOSE, department_code=item.department.code)
    prefilled: dict[str, dict] = {}
    form = dict(application.form or {})
    for field in item.form_schema or []:
        prefill_ = field.get("prefill") if isinstance(field, dict) else None
        if not isinstance(prefill_, dict):
            continue
        record = fetched.get(str(prefill_.get("resource")))
        value = record.get(prefill_.get("item")) if record else None
        if value is None or value == "":
            continue
        prefilled[field["key"]] = {"value": value, "resource": prefill_["resource"], "item": prefill_["item"]}
        form[field["key"]] = value
    reused: dict[str, dict] = {}
    for material in materials:
        if material.source == Material.Source.SHARED_DATA and fetched.get(material.resource_code) is not None:
            record = fetched[material.resource_code] or {}
            keys = list(material.resource_items or [])
            reused[str(material.pk)] = {"source": "shared_data", "resource": material.resource_code, "items": keys,
                                        "values": {k: record.get(k) for k in keys}}
    application.prefilled, application.form, application.reused = prefilled, form, reused
    refresh_certificates(actor, application, materials)


def refresh_certificates(actor: Actor, application: Application, materials: list[Material] | None = None) -> None:
    """(Re)match the certificate materials against the wallet now; updates ``reused`` and the count."""
    materials = materials if materials is not None else list(application.item.materials.all())
    wallet = valid_credentials(actor)
    reused = {k: v for k, v in (application.reused or {}).items() if v.get("source") != "certificate"}
    for material in materials:
        if material.source == Material.Source.CERTIFICATE and material.certificate_type in wallet:
            reused[str(material.pk)] = _certificate_entry(wallet[material.certificate_type])
    application.reused = reused
    application.reused_count = len(reused)


def fetched_data(application: Application) -> dict[str, dict[str, Any]]:
    """resource code -> {item: value} as fetched at the start (for the instant-approval rule)."""
    data: dict[str, dict[str, Any]] = {}
    for entry in (application.prefilled or {}).values():
        data.setdefault(str(entry.get("resource")), {})[str(entry.get("item"))] = entry.get("value")
    for entry in (application.reused or {}).values():
        if entry.get("source") == "shared_data":
            data.setdefault(str(entry.get("resource")), {}).update(entry.get("values") or {})
    return data


def wallet_types(application: Application) -> dict[str, bool]:
    """certificate type -> true, for the certificate materials satisfied from the wallet."""
    return {entry["type"]: True for entry in (application.reused or {}).values()
            if entry.get("source") == "certificate" and entry.get("type")}
