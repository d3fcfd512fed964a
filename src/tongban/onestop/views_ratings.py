"""Rating pages (好差评): the applicant's rating and re-rating page with the department's reply
(/me/applications/<number>/rate/), the department's rectification tickets with their reply
form (/workbench/onestop/tickets/), and the user's inbox (/me/inbox/). Thin: every decision is
the services'."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, path, reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tongban.core import notifications
from tongban.core.errors import InvalidInput
from tongban.core.models import Notification
from tongban.identity.decorators import actor_page
from tongban.onestop.models import RectificationTicket
from tongban.onestop.services import ratings

# The five levels as the page shows them (best first), and the tags' labels.
LEVEL_LABELS = {
    5: gettext_lazy("Very satisfied"), 4: gettext_lazy("Satisfied"), 3: gettext_lazy("Basically satisfied"),
    2: gettext_lazy("Dissatisfied"), 1: gettext_lazy("Very dissatisfied"),
}
TAG_LABELS = {
    "quick": gettext_lazy("Quick service"), "few_materials": gettext_lazy("Few materials asked"),
    "friendly": gettext_lazy("Friendly staff"), "no_visit": gettext_lazy("No trip needed"),
    "clear_guide": gettext_lazy("Everything told at once"),
    "many_materials": gettext_lazy("Too many materials"), "long_wait": gettext_lazy("Long wait"),
    "repeated_visits": gettext_lazy("Had to come back several times"), "unfriendly": gettext_lazy("Unfriendly staff"),
    "unclear_guide": gettext_lazy("Unclear guidance"),
}
TICKET_CLASSES = {"open": "status-warn", "replied": "status-ok", "closed": "status-off"}


logged_in_page = actor_page


def _url(name: str, *args, fallback: str) -> str:
    """A page another part of the app provides (``fallback`` while it does not exist)."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return fallback


def _english() -> bool:
    return (translation.get_language() or "").startswith("en")


def _errors(error: InvalidInput) -> dict:
    """Per-field messages of a service's InvalidInput (``other``: those of no field)."""
    problems = error.details.get("errors") if isinstance(error.details, dict) else None
    if not problems:
        return {"fields": {}, "other": [error.message]}
    fields: dict[str, list[str]] = {}
    for problem in problems:
        fields.setdefault(problem["field"], []).append(problem["message_en" if _english() else "message_zh"])
    return {"fields": fields, "other": []}


def tag_rows(codes) -> list[dict]:
    return [{"code": code, "label": TAG_LABELS.get(code, code)} for code in codes]


def rating_view(rating) -> dict | None:
    if rating is None:
        return None
    return {"rating": rating, "label": LEVEL_LABELS[rating.level], "tags": tag_rows(rating.tags),
            "bad": rating.level <= ratings.BAD_LEVEL}


# --- the applicant's rating page -----------------------------------------------------------------------------


def _level(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


@logged_in_page
@require_http_methods(["GET", "POST"])
def rate_page(request, actor, number: str):
    chosen = {"level": None, "tags": [], "comment": ""}
    errors = None
    status = 200
    if request.method == "POST":
        chosen = {"level": _level(request.POST.get("level")), "tags": request.POST.getlist("tags"),
                  "comment": request.POST.get("comment", "")}
        if chosen["level"] is None:
            errors, status = {"fields": {"level": [_("Choose how satisfied you are.")]}, "other": []}, 422
        else:
            try:
                with transaction.atomic():
                    ratings.rate(actor, number, level=chosen["level"], tags=chosen["tags"],
                                 comment=chosen["comment"])
            except InvalidInput as error:
                errors, status = _errors(error), 422
            else:
                return redirect(f"{reverse('onestop:rate', args=[number])}?thanks=1")
    with transaction.atomic():
        state = ratings.rating_state(actor, number)
    ticket = state.ticket
    context = {
        "state": state, "application": state.application, "item": state.application.item,
        "current": rating_view(state.current), "history": [rating_view(r) for r in state.history],
        "ticket": ticket, "ticket_class": TICKET_CLASSES.get(ticket.status) if ticket else "",
        "levels": [{"value": value, "label": label} for value, label in LEVEL_LABELS.items()],
        "positive_tags": tag_rows(ratings.POSITIVE_TAGS), "negative_tags": tag_rows(ratings.NEGATIVE_TAGS),
        "chosen": chosen, "errors": errors, "thanks": request.GET.get("thanks") == "1" and state.current,
        "application_url": _url("onestop:application", number, fallback=f"/me/applications/{number}/"),
    }
    return render(request, "onestop/ratings/rate.html", context, status=status)


# --- the department's rectification tickets -------------------------------------------------------------------


def _tickets_context(actor, request, *, errors: dict | None = None, failed: int | None = None) -> dict:
    status = request.GET.get("status", "")
    rows = []
    for ticket in ratings.tickets_for(actor, status=status or None):
        rating = ticket.rating
        rows.append({"ticket": ticket, "application": rating.application, "rating": rating_view(rating),
                     "overdue": ratings.is_overdue(ticket), "status_class": TICKET_CLASSES.get(ticket.status, ""),
                     "may_reply": ratings.may_reply(actor, ticket), "errors": errors if failed == ticket.pk else None})
    department = None if actor.is_bureau else actor.department_code
    summary = ratings.ratings_summary(department)
    return {
        "rows": rows, "status": status, "statuses": RectificationTicket.Status.choices, "is_bureau": actor.is_bureau,
        "summary": summary,
        "distribution": [{"level": level, "label": LEVEL_LABELS[level], "count": count}
                         for level, count in summary["by_level"].items()],
    }


@logged_in_page
def tickets_page(request, actor):
    with transaction.atomic():
        context = _tickets_context(actor, request)
    return render(request, "onestop/ratings/tickets.html", context)


@logged_in_page
@require_POST
def ticket_reply(request, actor, ticket_id: int):
    try:
        with transaction.atomic():
            ticket = ratings.reply_ticket(actor, ticket_id, request.POST.get("reply", ""))
    except InvalidInput as error:
        with transaction.atomic():
            context = _tickets_context(actor, request, errors=_errors(error), failed=ticket_id)
        return render(request, "onestop/ratings/tickets.html", context, status=422)
    messages.success(request, _("Your reply to ticket %(id)s was sent to the applicant.") % {"id": ticket.pk})
    return redirect("onestop:tickets")


# --- the inbox -----------------------------------------------------------------------------------------------------


@logged_in_page
def inbox_page(request, actor):
    only_unread = request.GET.get("unread") == "1"
    rows = [{"note": note, "title": notifications.title_of(note), "body": notifications.body_of(note)}
            for note in notifications.inbox(request.user, unread_only=only_unread)]
    return render(request, "onestop/inbox/inbox.html", {
        "rows": rows, "unread": notifications.unread_count(request.user), "only_unread": only_unread})


def _safe_link(request, link: str) -> str | None:
    if link and link.startswith("/") and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}):
        return link
    return None


@logged_in_page
def inbox_open(request, actor, notification_id: int):
    """Open a message's link, marking it read."""
    note = Notification.objects.filter(user=request.user, pk=notification_id).first()
    if note is None:
        return redirect("onestop:inbox")
    with transaction.atomic():
        notifications.mark_read(request.user, note.pk)
    return redirect(_safe_link(request, note.link) or reverse("onestop:inbox"))


@logged_in_page
@require_POST
def inbox_read(request, actor, notification_id: int):
    with transaction.atomic():
        notifications.mark_read(request.user, notification_id)
    url = reverse("onestop:inbox")
    return redirect(f"{url}?unread=1" if request.POST.get("unread") == "1" else url)


@logged_in_page
@require_POST
def inbox_read_all(request, actor):
    with transaction.atomic():
        for note in notifications.inbox(request.user, unread_only=True, limit=500):
            notifications.mark_read(request.user, note.pk)
    messages.success(request, _("All messages are marked as read."))
    return redirect("onestop:inbox")


urlpatterns = [
    path("me/applications/<str:number>/rate/", rate_page, name="rate"),
    path("workbench/onestop/tickets/", tickets_page, name="tickets"),
    path("workbench/onestop/tickets/<int:ticket_id>/reply/", ticket_reply, name="ticket-reply"),
    path("me/inbox/", inbox_page, name="inbox"),
    path("me/inbox/read-all/", inbox_read_all, name="inbox-read-all"),
    path("me/inbox/<int:notification_id>/", inbox_open, name="inbox-open"),
    path("me/inbox/<int:notification_id>/read/", inbox_read, name="inbox-read"),
]
