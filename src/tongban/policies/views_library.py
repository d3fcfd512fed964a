"""Policy pages for everyone: the library (/policies/: every department's and level's published
policies, searchable), one policy (/policies/<id>/) with "do I qualify" and the reasons for a
signed-in citizen or enterprise, one-click application (/policies/<id>/apply/), the rating of a
delivered policy, and "policies for me" (/me/policies/). Thin: every decision is the services'.

Opening a policy counts a view (查看) — the one write a GET makes, as the API does: it is the
"viewed" step of the supervision funnel, not a change the visitor asked for.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.core.errors import Conflict, InvalidInput
from tongban.identity.decorators import actor_page, domain_errors_as_pages
from tongban.identity.models import Department
from tongban.policies.forms import RatingForm
from tongban.policies.models import Delivery, Policy, PolicyRating
from tongban.policies.services import delivery, matching
from tongban.policies.services import policies as services

FILTERS = ("q", "theme", "department", "target")
BENEFICIARIES = ("citizen", "enterprise")

beneficiary_page = actor_page(kinds=BENEFICIARIES, refusal=("政策申报和评价面向企业和群众", "Applying for and rating policies is for citizens and enterprises"))


def language() -> str:
    return "en" if (translation.get_language() or "").startswith("en") else "zh"


def title_of(policy: Policy) -> str:
    return (policy.title_en or policy.title) if language() == "en" else policy.title


# --- the library -----------------------------------------------------------------------------------------------


@require_GET
def library_page(request):
    params = {name: request.GET.get(name, "").strip()[:100] for name in FILTERS}
    rows = services.library(**params)
    page = Paginator(rows, services.PAGE_SIZE).get_page(request.GET.get("page"))
    departments = (Department.objects.filter(policies__status=Policy.Status.PUBLISHED).distinct()
                   .order_by("code").values_list("code", "name"))
    query = urlencode({k: v for k, v in params.items() if v})
    return render(request, "policies/library.html", {
        "params": params, "page": page, "query": query, "filtered": any(params.values()),
        "themes": Policy.Theme.choices, "targets": Policy.Target.choices, "departments": list(departments),
    })


# --- one policy ------------------------------------------------------------------------------------------------


def _assessment(actor, policy: Policy) -> dict | None:
    """"Do I qualify", with what the page may offer: apply, the delivery, the rating form."""
    entry = matching.qualify(actor, policy, language=language())
    if entry is None:
        return None
    item = entry["delivery"]
    entry["may_apply"] = bool(policy.mode == Policy.Mode.APPLY and entry["matched"]
                              and services.accepts_applications(policy)
                              and not (item and item.application_number))
    entry["may_rate"] = bool(item and not PolicyRating.objects.filter(delivery=item).exists())
    entry["rating"] = PolicyRating.objects.filter(delivery=item).first() if item else None
    entry["failed"] = [r for r in entry["reasons"] if not r["passed"]]
    return entry


@require_GET
@domain_errors_as_pages
def detail_page(request, policy_id: int):
    actor = request.actor
    with transaction.atomic():
        policy = services.get_policy(actor, policy_id)
        if policy.status == Policy.Status.PUBLISHED:  # an editor's preview of a draft is no view
            services.record_view(actor, policy)
    rule = services.current_rule(policy)
    context = {
        "policy": policy, "title": title_of(policy), "rule": rule, "actor_kind": actor.kind,
        "in_force": services.is_in_force(policy), "open": services.accepts_applications(policy),
        "assessment": _assessment(actor, policy), "rating_form": RatingForm(),
        "may_manage": services.may_edit(actor, policy.department_id) or services.may_oversee(actor),
        "login_url": f"{reverse('login')}?{urlencode({'next': request.get_full_path()})}",
    }
    return render(request, "policies/detail.html", context)


@beneficiary_page
@require_http_methods(["GET", "POST"])
def apply_page(request, actor, policy_id: int):
    """GET: what applying means, with the reasons (changes nothing). POST: one-click application."""
    refusal = None
    if request.method == "POST":
        try:
            with transaction.atomic():
                application = delivery.apply(actor, policy_id, language=language())
        except Conflict as error:
            refusal = error
        else:
            messages.success(request, _("Your application %(number)s was started and filled in from the "
                                        "government's records. Check it and submit it.")
                             % {"number": application.number})
            return redirect("onestop:application", number=application.number)
    policy = services.get_policy(actor, policy_id)
    entry = _assessment(actor, policy)
    reasons = entry["reasons"] if entry else []
    if refusal is not None and isinstance(refusal.details, dict) and refusal.details.get("reasons"):
        reasons = refusal.details["reasons"]
    context = {"policy": policy, "title": title_of(policy), "assessment": entry, "reasons": reasons,
               "refusal": refusal, "open": services.accepts_applications(policy)}
    return render(request, "policies/apply.html", context, status=refusal.status if refusal else 200)


@beneficiary_page
@require_POST
def rate_page(request, actor, policy_id: int):
    form = RatingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a rating from 1 (very dissatisfied) to 5 (very satisfied)."))
        return redirect("policies:detail", policy_id=policy_id)
    try:
        with transaction.atomic():
            delivery.rate(actor, policy_id, form.cleaned_data["score"], form.cleaned_data["comment"])
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Thank you for your rating."))
    return redirect("policies:detail", policy_id=policy_id)


# --- policies for me -------------------------------------------------------------------------------------------


@beneficiary_page
@require_GET
def my_policies_page(request, actor):
    rows = matching.my_policies(actor, language=language())
    matched, others = [], []
    for row in rows:
        row["title"] = title_of(row["policy"])
        row["failed"] = [r for r in row["reasons"] if not r["passed"]]
        item = row["delivery"]
        row["may_apply"] = bool(row["matched"] and row["policy"].mode == Policy.Mode.APPLY
                                and services.accepts_applications(row["policy"])
                                and not (isinstance(item, Delivery) and item.application_number))
        (matched if row["matched"] else others).append(row)
    return render(request, "policies/mine.html", {"matched": matched, "others": others})


urlpatterns = [
    path("policies/", library_page, name="library"),
    path("policies/<int:policy_id>/", detail_page, name="detail"),
    path("policies/<int:policy_id>/apply/", apply_page, name="apply"),
    path("policies/<int:policy_id>/rating/", rate_page, name="rate"),
    path("me/policies/", my_policies_page, name="mine"),
]
