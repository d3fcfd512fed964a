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

``reused_count`` counts the reused materials. A resource the implementing department may no
longer bind (its grant is gone: ``selfservice.binding_allowed``) reads as no record: its fields
stay for the applicant, its materials are not reused.

At submission ``refetch`` reads every bound resource again (one access each) and replaces the
values; the instant-approval rule and the certificate use those fresh government values, and a
prefill-bound field without a government value (``ungoverned``) makes instant approval fail.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from tongban.catalog import services as catalog
from tongban.credentials import services as credentials
from tongban.exchange.services import masking, selfservice
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
    materials = list(application.item.materials.all())
    _fill(actor, application, materials)
    refresh_certificates(actor, application, materials)


def refetch(actor: Actor, application: Application, materials: list[Material] | None = None) -> list[str]:
    """Read the bound data again (at submission): ``prefilled`` and the shared-data entries of
    ``reused`` get the current government values (a bound field now without one drops out of
    ``prefilled`` and keeps the applicant's value). Returns the prefill-bound field keys that have
    no government value (``ungoverned``)."""
    materials = materials if materials is not None else list(application.item.materials.all())
    _fill(actor, application, materials)
    refresh_certificates(actor, application, materials)
    return ungoverned(application)


def bound_fields(item: ServiceItem) -> dict[str, dict]:
    """form field key -> its field spec, for the fields bound to a government record."""
    return {f["key"]: f for f in item.form_schema or []
            if isinstance(f, dict) and f.get("key") and isinstance(f.get("prefill"), dict)}


def ungoverned(application: Application) -> list[str]:
    """The prefill-bound fields of the application that have no government value."""
    prefilled = application.prefilled or {}
    return [key for key in bound_fields(application.item) if key not in prefilled]


def _fill(actor: Actor, application: Application, materials: list[Material]) -> None:
    item = application.item
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
    keep = {k: v for k, v in (application.reused or {}).items() if v.get("source") != "shared_data"}
    application.prefilled, application.form, application.reused = prefilled, form, {**keep, **reused}
    application.reused_count = len(application.reused)


def refresh_certificates(actor: Actor, application: Application, materials: list[Material] | None = None) -> None:
    """(Re)match the certificate materials against the wallet now; updates ``reused`` and the count."""
    materials = materials if materials is not None else list(application.item.materials.all())
    wallet = valid_credentials(actor)
    previous = application.reused or {}
    reused = {k: v for k, v in previous.items() if v.get("source") != "certificate"}
    # A credential the applicant chose (services.wallet_use) stays while it is still usable.
    now = timezone.now()
    still_usable = {str(c.pk): c for c in credentials.my_credentials(actor)
                    if c.state == "active" and (c.valid_until is None or c.valid_until > now)}
    for material in materials:
        if material.source != Material.Source.CERTIFICATE:
            continue
        old = previous.get(str(material.pk)) or {}
        kept = still_usable.get(str(old.get("credential"))) if old.get("chosen") else None
        if kept is not None and kept.type.code == material.certificate_type:
            reused[str(material.pk)] = old
        elif material.certificate_type in wallet:
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


def _maskers(department_id: int | None, resource_code: str) -> dict[str, Any] | None:
    """item key -> catalog item to mask with, for the items NOT cleared for ``department_id``
    (``None``: everything is clear — the department's own resource)."""
    resource = selfservice.published_resource(resource_code)
    cleared = selfservice.clear_items(department_id, resource)
    if cleared is None:
        return None
    items = {i.key: i for i in catalog.items_of(resource)} if resource is not None else {}
    return {"__items__": items, "__clear__": cleared}


def shown_to(actor: Actor, application: Application) -> dict[str, dict]:
    """``form``, ``prefilled`` and ``reused`` as ``actor`` may see them (nothing is changed).

    The applicant sees their own values. Anyone else (officials of the departments involved, the
    bureau) sees a value prefilled from ANOTHER department's resource masked
    (``exchange.services.masking.mask`` with the catalog item) unless the implementing
    department's active grant returns that item in clear."""
    form = dict(application.form or {})
    prefilled = {k: dict(v) for k, v in (application.prefilled or {}).items() if isinstance(v, dict)}
    reused = {k: dict(v) for k, v in (application.reused or {}).items() if isinstance(v, dict)}
    if actor.kind in ("citizen", "enterprise") and actor.user_id == application.applicant_id:
        return {"form": form, "prefilled": prefilled, "reused": reused}
    department_id = application.item.department_id
    cache: dict[str, dict | None] = {}

    def masked(resource_code: str, key: str, value: Any) -> Any:
        if resource_code not in cache:
            cache[resource_code] = _maskers(department_id, resource_code)
        rules = cache[resource_code]
        if rules is None or key in rules["__clear__"]:
            return value
        item = rules["__items__"].get(key)
        return masking.mask(item, value) if item is not None else (None if value is None else masking.FULL)

    for key, entry in prefilled.items():
        entry["value"] = masked(str(entry.get("resource")), str(entry.get("item")), entry.get("value"))
        if key in form:
            form[key] = entry["value"]
    for entry in reused.values():
        if entry.get("source") == "shared_data":
            resource_code = str(entry.get("resource"))
            entry["values"] = {k: masked(resource_code, k, v) for k, v in (entry.get("values") or {}).items()}
    return {"form": form, "prefilled": prefilled, "reused": reused}
