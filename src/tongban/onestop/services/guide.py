"""The public side of service items: search and browse the hall, and the guide (办事指南) that
tells everything at once (一次告知).

``guide(item, actor)`` lists conditions, process, every material with its necessity and source,
and whether the applicant must provide it: for a material the government already holds (an
e-certificate, shared data) an anonymous visitor reads when it is not needed; a signed-in
citizen or enterprise reads it for themselves — their wallet holds a valid credential of the
type (taken from the wallet) or the exchange holds their record in the resource (taken from
government records), or not, and then they provide it. Strings are in the active language.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.catalog import services as catalog
from tongban.core.errors import NotFound
from tongban.credentials import services as credentials
from tongban.credentials.models import CertificateType
from tongban.exchange.models import Record
from tongban.identity.access import Actor
from tongban.identity.models import Citizen, Department, Enterprise
from tongban.onestop.models import InstantRule, Material, ServiceItem
from tongban.onestop.services.items import CHANNELS, LIFE_EVENTS, SITUATIONS, THEMES, current_rule

Source = Material.Source


def published_items():
    """Published items with ``instant_approval`` (a current rule exists) annotated."""
    current = InstantRule.objects.filter(item=OuterRef("pk"), is_current=True)
    return (ServiceItem.objects.filter(status=ServiceItem.Status.PUBLISHED).select_related("department")
            .annotate(instant_approval=Exists(current)))


def search_items(q: str = "", *, theme: str | None = None, life_event: str | None = None,
                 department: str | None = None, applicant_kind: str | None = None) -> list[ServiceItem]:
    """Published items matching every word of ``q`` (name, summary, keywords, codes, department)
    and the filters; items whose name matches come first. ``department`` also finds the items the
    department co-handles."""
    rows = published_items()
    if theme:
        rows = rows.filter(theme=theme)
    if applicant_kind:
        rows = rows.filter(applicant_kind=applicant_kind)
    if department:
        co = ServiceItem.co_departments.through.objects.filter(serviceitem_id=OuterRef("pk"),
                                                               department__code=department)
        rows = rows.filter(Q(department__code=department) | Exists(co))
    terms = [t.lower() for t in (q or "").split()][:10]
    ranked = []
    for item in rows.order_by("code"):
        if life_event and life_event not in (item.life_events or []):
            continue
        name = f"{item.name} {item.name_en}".lower()
        other = " ".join([item.summary, " ".join(item.keywords or []), item.code, item.basic_code,
                          item.department.name, item.result_name]).lower()
        if all(t in name or t in other for t in terms):
            ranked.append((0 if terms and all(t in name for t in terms) else 1, item.code, item))
    return [item for _rank, _code, item in sorted(ranked, key=lambda r: (r[0], r[1]))]


def hall_facets() -> dict[str, list[dict]]:
    """What the hall browses by, with the number of published items of each."""
    themes: Counter = Counter()
    events: Counter = Counter()
    departments: Counter = Counter()
    published = published_items()
    for theme, life_events, department in published.values_list("theme", "life_events", "department_id"):
        if theme:
            themes[theme] += 1
        events.update(set(life_events or []))
        departments[department] += 1
    co = ServiceItem.co_departments.through.objects.filter(serviceitem__status=ServiceItem.Status.PUBLISHED)
    departments.update(co.values_list("department_id", flat=True))
    names = dict(Department.objects.filter(pk__in=departments).values_list("pk", "name"))
    codes = dict(Department.objects.filter(pk__in=departments).values_list("pk", "code"))
    return {
        "themes": [{"value": k, "label": str(v), "count": themes[k]} for k, v in THEMES.items() if themes[k]],
        "life_events": [{"value": k, "label": str(v), "count": events[k]} for k, v in LIFE_EVENTS.items() if events[k]],
        "departments": sorted(({"value": codes[pk], "label": names[pk], "count": n} for pk, n in departments.items()),
                              key=lambda d: d["value"]),
    }


def summary(item: ServiceItem) -> dict[str, Any]:
    """An item as listed in the hall and by ``GET /onestop/items``."""
    instant = getattr(item, "instant_approval", None)
    if instant is None:
        instant = InstantRule.objects.filter(item=item, is_current=True).exists()
    return {
        "code": item.code, "name": item.name, "name_en": item.name_en, "item_type": item.item_type,
        "item_type_label": str(item.get_item_type_display()), "applicant_kind": item.applicant_kind,
        "department": item.department.code, "department_name": item.department.name, "summary": item.summary,
        "promised_days": item.promised_days, "statutory_days": item.statutory_days, "visits": item.visits,
        "zero_visit": item.visits == 0, "instant_approval": bool(instant), "free": not item.fees,
        "theme": item.theme, "life_events": list(item.life_events or []),
        "certificate_type": item.certificate_type or None, "status": item.status,
    }


# --- the guide ---------------------------------------------------------------------------------------------


class _Holder:
    """What the government holds for one signed-in applicant (their wallet, their records)."""

    def __init__(self, actor: Actor | None, item: ServiceItem) -> None:
        self.identifier: str | None = None
        self.wallet: set[str] = set()
        self.records: set[str] = set()
        if actor is None or actor.kind != item.applicant_kind or actor.user_id is None:
            return
        model = Citizen if actor.kind == "citizen" else Enterprise
        holder = model.objects.filter(user_id=actor.user_id).first()
        if holder is None:
            return
        self.identifier = holder.id_number if model is Citizen else holder.uscc
        now = timezone.now()
        self.wallet = set(credentials.my_credentials(actor).filter(revoked_at__isnull=True, suspended=False)
                          .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
                          .values_list("type__code", flat=True))
        codes = {m.resource_code for m in item.materials.all() if m.resource_code}
        codes |= {f["prefill"]["resource"] for f in item.form_schema if f.get("prefill")}
        self.records = set(Record.objects.filter(subject=self.identifier, resource_code__in=codes)
                           .values_list("resource_code", flat=True))

    @property
    def personal(self) -> bool:
        return self.identifier is not None


class _Resources:
    def __init__(self) -> None:
        self._cache: dict[str, dict | None] = {}

    def get(self, code: str) -> dict | None:
        if code not in self._cache:
            try:
                resource = catalog.get_published(code)
            except NotFound:
                self._cache[code] = None
            else:
                self._cache[code] = {"code": code, "name": resource.name, "provider": resource.department.name,
                                     "provider_code": resource.department.code,
                                     "items": {i.key: i.name for i in catalog.items_of(resource)}}
        return self._cache[code]


def _material(material: Material, holder: _Holder, resources: _Resources, types: dict) -> dict:
    entry: dict[str, Any] = {
        "id": material.pk, "name": material.name, "necessity": material.necessity,
        "necessity_label": str(material.get_necessity_display()), "source": material.source,
        "source_label": str(material.get_source_display()), "description": material.description,
        "paper_copies": material.paper_copies, "certificate_type": None, "certificate_name": None,
        "resource": None, "resource_name": None, "provider": None, "resource_items": [],
        "form_section": material.form_section or None,
    }
    if material.source == Source.CERTIFICATE:
        name = types.get(material.certificate_type, material.certificate_type)
        entry.update(certificate_type=material.certificate_type, certificate_name=name)
        if not holder.personal:
            entry.update(not_needed=True, status="generic",
                         reason=_("Not needed when you hold the e-certificate “%(name)s”: it is taken from your "
                                  "wallet.") % {"name": name})
        elif material.certificate_type in holder.wallet:
            entry.update(not_needed=True, status="wallet",
                         reason=_("Taken from your wallet (e-certificate “%(name)s”): you do not provide it.")
                         % {"name": name})
        else:
            entry.update(not_needed=False, status="missing",
                         reason=_("Your wallet holds no valid e-certificate “%(name)s”: provide a scan or photo "
                                  "of the paper one.") % {"name": name})
    elif material.source == Source.SHARED_DATA:
        resource = resources.get(material.resource_code) or {
            "name": material.resource_code, "provider": "", "items": {}}
        entry.update(resource=material.resource_code, resource_name=resource["name"], provider=resource["provider"],
                     resource_items=[{"key": k, "name": resource["items"].get(k, k)} for k in material.resource_items])
        names = {"resource": resource["name"], "provider": resource["provider"]}
        if not holder.personal:
            entry.update(not_needed=True, status="generic",
                         reason=_("Not needed when your record is in %(provider)s’s “%(resource)s”: it is taken "
                                  "from government records.") % names)
        elif material.resource_code in holder.records:
            entry.update(not_needed=True, status="records",
                         reason=_("Taken from government records (%(provider)s, “%(resource)s”): you do not "
                                  "provide it.") % names)
        else:
            entry.update(not_needed=False, status="missing",
                         reason=_("%(provider)s holds no record of yours in “%(resource)s”: provide it yourself.")
                         % names)
    elif material.source == Source.FORM:
        entry.update(not_needed=False, status="form", reason=_("You fill this in on the online form."))
    else:
        entry.update(not_needed=False, status="upload", reason=_("Upload a scan or photo when you apply."))
    return entry


def _field(spec: dict, holder: _Holder, resources: _Resources) -> dict:
    field = {"key": spec.get("key"), "label": spec.get("label", ""), "label_en": spec.get("label_en", ""),
             "type": spec.get("type", "text"), "required": bool(spec.get("required")),
             "options": spec.get("options") or [], "prefill": None, "prefilled": None}
    prefill = spec.get("prefill")
    if prefill:
        resource = resources.get(prefill["resource"]) or {"name": prefill["resource"], "provider": "", "items": {}}
        field["prefill"] = {"resource": prefill["resource"], "resource_name": resource["name"],
                            "provider": resource["provider"], "item": prefill["item"],
                            "item_name": resource["items"].get(prefill["item"], prefill["item"])}
        if holder.personal:
            field["prefilled"] = prefill["resource"] in holder.records
    return field


def guide(item: ServiceItem, actor: Actor | None = None) -> dict[str, Any]:
    """Everything about ``item`` at once, personalised for a signed-in applicant of its kind."""
    holder = _Holder(actor, item)
    resources = _Resources()
    materials = list(item.materials.all())
    codes = {m.certificate_type for m in materials if m.certificate_type} | {item.certificate_type}
    types = dict(CertificateType.objects.filter(code__in=codes).values_list("code", "name"))
    rule = current_rule(item)
    entries = [_material(m, holder, resources, types) for m in materials]
    fields = [_field(spec, holder, resources) for spec in item.form_schema or []]
    required = [m for m in entries if m["necessity"] == Material.Necessity.REQUIRED]
    steps = [{"name": s, "name_en": "", "description": ""} if isinstance(s, str) else s for s in item.process or []]
    co_departments = list(item.co_departments.order_by("code"))
    return {
        **summary(item),
        "instant_approval": rule is not None,
        "basic_code": item.basic_code,
        "applicant_kind_label": str(item.get_applicant_kind_display()),
        "co_departments": [{"code": d.code, "name": d.name} for d in co_departments],
        "parallel": bool(co_departments),
        "legal_basis": item.legal_basis,
        "conditions": item.conditions,
        "process": steps,
        "situations": [{"value": s, "label": str(SITUATIONS.get(s, s))} for s in item.situations or []],
        "channels": [{"value": c, "label": str(CHANNELS.get(c, c))} for c in item.channels or []],
        "time_limits": {"statutory_days": item.statutory_days, "promised_days": item.promised_days,
                        "unit": "working_days", "same_day": item.promised_days == 0},
        "visits_text": _("Zero visits: everything online (零跑动)") if item.visits == 0
        else _("%(n)s visit(s) in person") % {"n": item.visits},
        "fees": item.fees,
        "fees_text": item.fees or _("Free of charge"),
        "result": {"name": item.result_name, "certificate_type": item.certificate_type or None,
                   "certificate_name": types.get(item.certificate_type) if item.certificate_type else None,
                   "to_wallet": bool(item.certificate_type)},
        "complaint": item.complaint or _("12345 government service hotline"),
        "instant_rule": {"version": rule.version, "description": rule.description} if rule else None,
        "theme_label": str(THEMES.get(item.theme, "")) if item.theme else "",
        "life_event_labels": [str(LIFE_EVENTS.get(e, e)) for e in item.life_events or []],
        "keywords": list(item.keywords or []),
        "materials": entries,
        "form_fields": fields,
        "personalised": holder.personal,
        "counts": {"materials": len(entries), "not_needed": sum(1 for m in entries if m["not_needed"]),
                   "to_provide": sum(1 for m in required if not m["not_needed"] and m["status"] != "form"),
                   "fields": len(fields), "prefilled_fields": sum(1 for f in fields if f["prefill"])},
        "apply_url": f"/services/{item.code}/apply/",
    }
