"""Exchange workbench pages for access requests and grants: the hub, the request form, the
provider's and the consumer's lists, a request with its decision, withdrawal, escalation and
ledger trail, grants with revocation and narrowing, and the bureau's oversight of deadlines.
Thin: every decision is the services'."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path, re_path
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tongban.catalog import services as catalog
from tongban.catalog.models import Resource
from tongban.core.errors import Conflict, DomainError, InvalidInput, NotFound
from tongban.exchange.models import AccessRequest, Mode, ResourceState
from tongban.exchange.services import grants as grant_services
from tongban.exchange.services import requests as services
from tongban.identity.decorators import actor_page

MODE_LABELS = dict(Mode.choices)
STATE_LABELS = {"active": gettext_lazy("Active"), "expired": gettext_lazy("Expired"),
                "revoked": gettext_lazy("Revoked"), "not_started": gettext_lazy("Not yet valid")}
STATUS_CLASSES = {"pending": "status-warn", "approved": "status-ok", "rejected": "status-off",
                  "withdrawn": "status-off", "active": "status-ok", "expired": "status-off",
                  "revoked": "status-off", "not_started": "status-warn"}


official_page = actor_page(kinds=("official",), refusal=("交换工作台供部门工作人员使用", "The exchange workbench is for department staff."))


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _message(problem: dict) -> str:
    return problem["message_en"] if _english() else problem["message_zh"]


def _field_errors(error: InvalidInput) -> tuple[dict[str, list[str]], list[str]]:
    """Per-field messages from a service's InvalidInput, and the ones that belong to no field."""
    problems = error.details.get("errors") if isinstance(error.details, dict) else None
    if not problems:
        return {}, [error.message]
    fields: dict[str, list[str]] = {}
    for problem in problems:
        fields.setdefault(problem["field"], []).append(_message(problem))
    return fields, []


def _items_of(code: str) -> dict:
    """The resource's items by key (empty when it is no longer published)."""
    try:
        return {item.key: item for item in catalog.items_of(catalog.get_published(code))}
    except NotFound:
        return {}


def _item_rows(keys: list[str], catalog_items: dict, clear: list[str] | None = None) -> list[dict]:
    return [{"key": key, "item": catalog_items.get(key), "clear": clear is not None and key in clear} for key in keys]


def _modes(keys: list[str]) -> list[str]:
    return [str(MODE_LABELS.get(key, key)) for key in keys]


# --- hub --------------------------------------------------------------------------------------------------------


@official_page
def hub(request, actor):
    is_bureau = grant_services.is_bureau_official(actor)
    context = {"is_bureau": is_bureau, "can_request": services.may_request(actor)}
    if actor.department_id:
        context.update({
            "to_decide": services.list_requests(actor, side="provider", status="pending").count(),
            "overdue_to_decide": services.list_requests(actor, side="provider", overdue=True).count(),
            "my_pending": services.list_requests(actor, side="consumer", status="pending").count(),
            "grants_given": grant_services.list_grants(actor, side="provider", active_only=True).count(),
            "grants_held": grant_services.list_grants(actor, side="consumer", active_only=True).count(),
        })
    if is_bureau:
        context["all_pending"] = services.list_requests(actor, status="pending").count()
        context["all_overdue"] = services.list_requests(actor, overdue=True).count()
    if actor.has_role(*services.SETTING_ROLES) and actor.department_id:
        not_shared = Resource.objects.filter(department_id=actor.department_id, status=Resource.Status.PUBLISHED,
                                             sharing=Resource.Sharing.NO_SHARE).order_by("code")
        enabled = set(ResourceState.objects.filter(verify_when_not_shared=True, resource_code__in=[
            r.code for r in not_shared]).values_list("resource_code", flat=True))
        context["not_shared"] = [{"resource": r, "verify": r.code in enabled} for r in not_shared]
    return render(request, "exchange/hub.html", context)


@official_page
@require_POST
def verify_setting(request, actor, code: str):
    enabled = request.POST.get("enabled") == "1"
    with transaction.atomic():
        services.set_verify_when_not_shared(actor, code, enabled)
    messages.success(request, _("Verification of %(code)s is now offered.") % {"code": code} if enabled
                     else _("Verification of %(code)s is no longer offered.") % {"code": code})
    return redirect("exchange:hub")


# --- requests ----------------------------------------------------------------------------------------------


def _parse_int(value: str | None) -> int | None:
    """A whole number from a form field; None (refused by the services) when it is not one."""
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def _optional_int(value: str | None) -> int | None:
    """Empty: None (the default applies); not a number: 0, which the services refuse."""
    value = (value or "").strip()
    if not value:
        return None
    parsed = _parse_int(value)
    return 0 if parsed is None else parsed


@official_page
@require_http_methods(["GET", "POST"])
def request_new(request, actor):
    code = (request.POST.get("resource") or request.GET.get("resource") or "").strip()
    if not code:
        raise NotFound(_("Choose a resource in the data catalog first."), "Choose a resource in the catalog first.")
    resource = catalog.get_published(code)
    items = catalog.items_of(resource)
    no_share = resource.sharing == Resource.Sharing.NO_SHARE
    values = {"item_keys": [], "modes": ["verify" if no_share else "query"], "purpose": "", "scenario": "",
              "legal_basis": "", "duration_days": "365"}
    field_errors: dict[str, list[str]] = {}
    form_errors: list[str] = []
    pending_id = None
    if request.method == "POST":
        values = {"item_keys": request.POST.getlist("items"), "modes": request.POST.getlist("modes"),
                  "purpose": request.POST.get("purpose", ""), "scenario": request.POST.get("scenario", ""),
                  "legal_basis": request.POST.get("legal_basis", ""),
                  "duration_days": request.POST.get("duration_days", "")}
        try:
            with transaction.atomic():
                created = services.submit_request(
                    actor, resource_code=resource.code, items=values["item_keys"], modes=values["modes"],
                    purpose=values["purpose"], scenario=values["scenario"], legal_basis=values["legal_basis"],
                    duration_days=_parse_int(values["duration_days"]))
            if created.status == AccessRequest.Status.APPROVED:
                messages.success(request, _("The resource is shared unconditionally: access was granted at once."))
            else:
                messages.success(request, _("Request submitted. The provider answers by %(date)s.")
                                 % {"date": created.due_on.isoformat()})
            return redirect("exchange:request-detail", request_id=created.pk)
        except InvalidInput as error:
            field_errors, form_errors = _field_errors(error)
        except Conflict as error:
            form_errors = [error.message]
            pending_id = (error.details or {}).get("request") if isinstance(error.details, dict) else None
    context = {
        "resource": resource, "items": items, "values": values, "modes": Mode.choices, "no_share": no_share,
        "verify_offered": no_share and services.verify_enabled(resource.code),
        "own": resource.department_id == actor.department_id, "can_request": services.may_request(actor),
        # "items" would clash with dict.items in templates: the field is "item_keys" there.
        "errs": {("item_keys" if k == "items" else k): v for k, v in field_errors.items()},
        "error_list": [(k, m) for k, ms in field_errors.items() for m in ms], "form_errors": form_errors,
        "pending_id": pending_id,
        "max_days": services.MAX_DURATION_DAYS,
    }
    status = 422 if field_errors or form_errors else 200
    return render(request, "exchange/requests/new.html", context, status=status)


@official_page
def request_list(request, actor):
    is_bureau = grant_services.is_bureau_official(actor)
    sides = ["provider", "consumer"] + (["all"] if is_bureau else [])
    side = request.GET.get("side") or ("all" if is_bureau and not actor.has_role(*grant_services.DECIDER_ROLES)
                                       else "provider")
    if side not in sides:
        side = "provider"
    status = request.GET.get("status", "")
    status = status if status in AccessRequest.Status.values else ""
    overdue = request.GET.get("overdue") == "1"
    rows = services.list_requests(actor, side=None if side == "all" else side, status=status or None,
                                  overdue=overdue)[:500]
    today = services.today()
    context = {
        "rows": [{"request": r, "overdue": services.is_overdue(r, today), "modes": _modes(r.modes),
                  "status_class": STATUS_CLASSES.get(r.status, "")} for r in rows],
        "side": side, "sides": sides, "status": status, "overdue": overdue,
        "statuses": AccessRequest.Status.choices, "is_bureau": is_bureau,
    }
    return render(request, "exchange/requests/list.html", context)


@official_page
def request_detail(request, actor, request_id: int):
    access_request = services.get_request(actor, request_id)
    catalog_items = _items_of(access_request.resource_code)
    grant = getattr(access_request, "grant", None)
    default_clear = [key for key in access_request.items if key in catalog_items
                     and not (catalog_items[key].personal_sensitive or catalog_items[key].is_subject_key)]
    state = grant_services.grant_state(grant) if grant else None
    context = {
        "grant_state_label": STATE_LABELS.get(state), "grant_state_class": STATUS_CLASSES.get(state, ""),
        "r": access_request, "grant": grant, "items": _item_rows(access_request.items, catalog_items, default_clear),
        "modes": _modes(access_request.modes), "overdue": services.is_overdue(access_request),
        "status_class": STATUS_CLASSES.get(access_request.status, ""),
        "grant_state": state,
        "can_decide": services.can_decide(actor, access_request),
        "can_withdraw": services.can_withdraw(actor, access_request),
        "can_escalate": services.can_escalate(actor, access_request),
        "trail": services.trail(access_request), "default_rate": grant_services.DEFAULT_RATE_LIMIT,
        "errors": request.session.pop("exchange_errors", None),
    }
    return render(request, "exchange/requests/detail.html", context)


def _back_with_errors(request, error: DomainError, name: str, **kwargs):
    if isinstance(error, InvalidInput):
        fields, other = _field_errors(error)
        request.session["exchange_errors"] = {"fields": fields, "other": other}
    else:
        messages.error(request, error.message)
    return redirect(name, **kwargs)


@official_page
@require_POST
def request_decide(request, actor, request_id: int):
    approve = request.POST.get("decision") == "approve"
    rate = _optional_int(request.POST.get("rate_limit_per_minute")) if approve else None
    try:
        with transaction.atomic():
            services.decide(actor, request_id, approve=approve, reason=request.POST.get("reason", ""),
                            clear_items=request.POST.getlist("clear_items") if approve else None,
                            rate_limit_per_minute=rate)
    except (InvalidInput, Conflict) as error:
        return _back_with_errors(request, error, "exchange:request-detail", request_id=request_id)
    messages.success(request, _("Approved: the grant is active.") if approve else _("Rejected."))
    return redirect("exchange:request-detail", request_id=request_id)


@official_page
@require_POST
def request_withdraw(request, actor, request_id: int):
    try:
        with transaction.atomic():
            services.withdraw(actor, request_id)
    except Conflict as error:
        messages.error(request, error.message)
        return redirect("exchange:request-detail", request_id=request_id)
    messages.success(request, _("The request was withdrawn."))
    return redirect("exchange:request-detail", request_id=request_id)


@official_page
@require_POST
def request_escalate(request, actor, request_id: int):
    back = "exchange:oversight" if request.POST.get("back") == "oversight" else "exchange:request-detail"
    kwargs = {} if back == "exchange:oversight" else {"request_id": request_id}
    try:
        with transaction.atomic():
            services.escalate(actor, request_id, request.POST.get("note", ""))
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
        return redirect(back, **kwargs)
    messages.success(request, _("Escalated request #%(id)s.") % {"id": request_id})
    return redirect(back, **kwargs)


@official_page
def oversight(request, actor):
    rows = services.oversight_queue(actor)[:500]
    today = services.today()
    context = {"rows": [{"request": r, "overdue": services.is_overdue(r, today)} for r in rows],
               "can_escalate": grant_services.is_bureau_overseer(actor)}
    return render(request, "exchange/requests/oversight.html", context)


# --- grants ----------------------------------------------------------------------------------------------------


@official_page
def grant_list(request, actor):
    is_bureau = grant_services.is_bureau_official(actor)
    sides = ["provider", "consumer"] + (["all"] if is_bureau else [])
    side = request.GET.get("side") or ("all" if is_bureau else "provider")
    side = side if side in sides else "provider"
    active = request.GET.get("active") == "1"
    rows = grant_services.list_grants(actor, side=None if side == "all" else side, active_only=active)[:500]
    now = timezone.now()
    context = {"rows": [{"grant": g, "state": grant_services.grant_state(g, now), "modes": _modes(g.modes),
                         "name": g.request.resource_name if g.request_id else g.resource_code} for g in rows],
               "side": side, "sides": sides, "active": active}
    for row in context["rows"]:
        row["state_class"] = STATUS_CLASSES[row["state"]]
        row["state_label"] = STATE_LABELS[row["state"]]
    return render(request, "exchange/grants/list.html", context)


@official_page
def grant_detail(request, actor, grant_id: int):
    grant = grant_services.get_grant(actor, grant_id)
    state = grant_services.grant_state(grant)
    context = {
        "g": grant, "state": state, "state_class": STATUS_CLASSES[state], "state_label": STATE_LABELS[state],
        "name": grant.request.resource_name if grant.request_id else grant.resource_code,
        "items": _item_rows(list(grant.items), _items_of(grant.resource_code), list(grant.clear_items)),
        "modes": _modes(grant.modes), "can_revoke": grant_services.can_revoke(actor, grant),
        "can_update": grant_services.can_update(actor, grant),
        "expires_local": timezone.localtime(grant.expires_at).strftime("%Y-%m-%dT%H:%M"),
        "errors": request.session.pop("exchange_errors", None),
    }
    return render(request, "exchange/grants/detail.html", context)


@official_page
@require_POST
def grant_revoke(request, actor, grant_id: int):
    try:
        with transaction.atomic():
            grant_services.revoke_grant(actor, grant_id, request.POST.get("reason", ""))
    except (InvalidInput, Conflict) as error:
        return _back_with_errors(request, error, "exchange:grant-detail", grant_id=grant_id)
    messages.success(request, _("The grant was revoked. Every further access is refused."))
    return redirect("exchange:grant-detail", grant_id=grant_id)


def _parse_local(value: str) -> datetime.datetime | None:
    try:
        return timezone.make_aware(datetime.datetime.fromisoformat(value.strip()))
    except ValueError:
        raise InvalidInput("到期时间格式不正确", "The expiry is not a valid date and time", code="invalid_expiry",
                           details={"errors": [{"field": "expires_at", "code": "invalid_expiry",
                                                "message_zh": "到期时间格式不正确",
                                                "message_en": "The expiry is not a valid date and time"}]}) from None


@official_page
@require_POST
def grant_update(request, actor, grant_id: int):
    rate = _optional_int(request.POST.get("rate_limit_per_minute"))
    expires = request.POST.get("expires_at", "").strip()
    try:
        with transaction.atomic():
            current = grant_services.get_grant(actor, grant_id)
            expires_at = _parse_local(expires) if expires else None
            if expires_at is not None and abs((expires_at - current.expires_at).total_seconds()) < 60:
                expires_at = None  # the form shows minutes: an unchanged field is not a change
            grant_services.update_grant(actor, grant_id, clear_items=request.POST.getlist("clear_items"),
                                        rate_limit_per_minute=rate,
                                        expires_at=expires_at)
    except (InvalidInput, Conflict) as error:
        return _back_with_errors(request, error, "exchange:grant-detail", grant_id=grant_id)
    messages.success(request, _("The grant was updated."))
    return redirect("exchange:grant-detail", grant_id=grant_id)


urlpatterns = [
    path("workbench/exchange/", hub, name="hub"),
    path("workbench/exchange/requests/", request_list, name="requests"),
    re_path(r"^workbench/exchange/requests/new/?$", request_new, name="request-new"),
    path("workbench/exchange/requests/<int:request_id>/", request_detail, name="request-detail"),
    path("workbench/exchange/requests/<int:request_id>/decide/", request_decide, name="request-decide"),
    path("workbench/exchange/requests/<int:request_id>/withdraw/", request_withdraw, name="request-withdraw"),
    path("workbench/exchange/requests/<int:request_id>/escalate/", request_escalate, name="request-escalate"),
    path("workbench/exchange/oversight/", oversight, name="oversight"),
    path("workbench/exchange/grants/", grant_list, name="grants"),
    path("workbench/exchange/grants/<int:grant_id>/", grant_detail, name="grant-detail"),
    path("workbench/exchange/grants/<int:grant_id>/revoke/", grant_revoke, name="grant-revoke"),
    path("workbench/exchange/grants/<int:grant_id>/update/", grant_update, name="grant-update"),
    path("workbench/exchange/verification/<slug:code>/", verify_setting, name="verify-setting"),
]
