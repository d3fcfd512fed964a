"""The consumer's "try a query" page: pick one of the department's grants, enter a subject, run
query or verify, and see the answer exactly as a department system would (masked, granted items
only). It calls the same services as the API, so every try is an access in the ledger."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tongban.catalog import services as catalog
from tongban.core.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from tongban.exchange.models import Grant
from tongban.exchange.services import access, authz
from tongban.identity.decorators import actor_page

TRY_MODES = ("query", "verify")


consumer_page = actor_page(kinds=("official",), refusal=("交换工作台供部门工作人员使用", "The exchange workbench is for department staff."))


def _usable_grants(actor) -> list[dict]:
    """The department's grants valid now that allow query or verify, with their resources."""
    if actor.department_id is None:
        return []
    now = timezone.now()
    grants = Grant.objects.filter(consumer_id=actor.department_id, status=Grant.Status.ACTIVE, starts_at__lte=now,
                                  expires_at__gt=now).select_related("provider").order_by("resource_code", "-id")
    rows = []
    for grant in grants:
        modes = [mode for mode in TRY_MODES if mode in (grant.modes or ())]
        if not modes:
            continue
        try:
            resource = catalog.get_published(grant.resource_code)
        except NotFound:
            continue
        items = {item.key: item for item in catalog.items_of(resource)}
        rows.append({"grant": grant, "resource": resource, "modes": modes,
                     "items": [items[key] for key in items if key in set(grant.items or ())]})
    return rows


@consumer_page
@require_http_methods(["GET", "POST"])
def try_query(request, actor):
    usable = _usable_grants(actor)
    data = request.POST if request.method == "POST" else request.GET
    chosen = None
    grant_id = (data.get("grant") or "").strip()
    if grant_id.isdigit():
        chosen = next((row for row in usable if row["grant"].pk == int(grant_id)), None)
    if chosen is None and len(usable) == 1:
        chosen = usable[0]
    mode = data.get("mode") if data.get("mode") in TRY_MODES else None
    if chosen is not None and mode not in chosen["modes"]:
        mode = chosen["modes"][0]
    values = {"subject": (data.get("subject") or "").strip(),
              "claims": {key[6:]: value for key, value in data.items() if key.startswith("claim_")}}
    context = {"usable": usable, "chosen": chosen, "mode": mode, "values": values, "result": None,
               "error": None, "allowed": actor.has_role(*authz.CONSUMER_ROLES)}
    status = 200
    if request.method == "POST" and chosen is not None:
        code = chosen["grant"].resource_code
        try:
            if not values["subject"]:
                raise InvalidInput("请填写主体标识（身份证号码或统一社会信用代码）",
                                   "Enter the subject (ID number or USCC)", code="subject_required")
            if mode == "verify":
                claims = {key: value for key, value in values["claims"].items() if value.strip()}
                context["result"] = _verify_rows(chosen, access.verify(actor, code, values["subject"], claims))
            else:
                context["result"] = _query_rows(chosen, access.query(actor, code, values["subject"]))
        except NotFound as error:
            context["error"], status = error, 404
        except (InvalidInput, PermissionDenied) as error:
            context["error"], status = error, error.status
        except DomainError as error:  # 429 and the like: shown on the page, not an error page
            context["error"], status = error, error.status
    return render(request, "exchange/try/index.html", context, status=status)


def _query_rows(chosen: dict, answer: dict) -> dict:
    masked = set(answer["masked"])
    names = {item.key: item for item in chosen["items"]}
    rows = [{"key": key, "item": names.get(key), "value": value, "masked": key in masked}
            for key, value in answer["record"].items()]
    return {"mode": "query", "grant": answer["grant"], "rows": rows}


def _verify_rows(chosen: dict, answer: dict) -> dict:
    names = {item.key: item for item in chosen["items"]}
    rows = [{"key": key, "item": names.get(key), "outcome": outcome} for key, outcome in answer["results"].items()]
    return {"mode": "verify", "grant": answer["grant"], "rows": rows, "all_match": answer["all_match"]}


urlpatterns = [
    path("workbench/exchange/try/", try_query, name="try"),
]
