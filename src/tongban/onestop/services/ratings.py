"""Ratings (好差评) and the rectification of bad ones (差评整改).

Callers hold the transaction. The rules:
* the applicant — and only the applicant — rates an application once it is finished by a
  decision: completed (办结), denied (不予许可) or refused (不予受理). A denial or a refusal is
  rated too: in the national 好差评 system every finished matter is rated, and a refused
  applicant is the one most likely to have something to say. Five levels, 5 非常满意 … 1 非常不满意,
  tags from a fixed list per polarity and a comment; 不满意 or worse needs a tag or a comment
  (the department has to know what to put right);
* one current rating per application (409 ``already_rated``), except a re-rating after the
  department replied to the rectification ticket: the new rating replaces the old one as current
  and closes the ticket;
* 不满意 or worse opens a rectification ticket for the implementing department, due in
  ``item.rectification_days`` working days (default 15); an official of that department (clerk,
  approver, steward or department admin) replies once; the applicant is told and may re-rate;
* a completed application nobody rated within 7 days of completion counts as 基本满意
  (``default_ratings``, swept hourly by huey: ``sweep_default_ratings``). Denied and refused
  applications get no default: silence about a refusal is not satisfaction.

Every change writes a ledger entry (``onestop.rated``, ``onestop.rating_defaulted``,
``onestop.rectification_opened``, ``onestop.rectification_replied``); free text (comment, reply)
enters it as its SHA-256 only.
"""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.notifications import notify
from tongban.core.workdays import add_working_days
from tongban.identity.access import Actor, Role, require_authenticated
from tongban.identity.models import Department
from tongban.ledger import services as ledger
from tongban.onestop.models import Application, Rating, RectificationTicket

TIME_ZONE = ZoneInfo("Asia/Shanghai")
Status = Application.Status
TicketStatus = RectificationTicket.Status

RATED = "onestop.rated"
DEFAULTED = "onestop.rating_defaulted"
TICKET_OPENED = "onestop.rectification_opened"
TICKET_REPLIED = "onestop.rectification_replied"
DEFAULT_SWEEPER = "system:rating-default"

RATABLE_STATUSES = (Status.COMPLETED, Status.DENIED, Status.REFUSED)
DEFAULT_AFTER = datetime.timedelta(days=7)
DEFAULT_LEVEL = Rating.Level.BASICALLY_SATISFIED
DEFAULT_RECTIFICATION_DAYS = 15
BAD_LEVEL = Rating.Level.DISSATISFIED  # this or worse opens a ticket
REPLY_ROLES = (Role.CLERK, Role.APPROVER, Role.DEPT_ADMIN, Role.STEWARD)
MAX_COMMENT = 1000
MAX_REPLY = 2000

LEVELS: dict[int, tuple[str, str]] = {
    5: ("非常满意", "Very satisfied"),
    4: ("满意", "Satisfied"),
    3: ("基本满意", "Basically satisfied"),
    2: ("不满意", "Dissatisfied"),
    1: ("非常不满意", "Very dissatisfied"),
}
POSITIVE_TAGS: dict[str, tuple[str, str]] = {
    "quick": ("办事快捷", "Quick service"),
    "few_materials": ("材料精简", "Few materials asked"),
    "friendly": ("态度热情", "Friendly staff"),
    "no_visit": ("不用跑腿", "No trip needed"),
    "clear_guide": ("一次告知清楚", "Everything told at once"),
}
NEGATIVE_TAGS: dict[str, tuple[str, str]] = {
    "many_materials": ("材料繁琐", "Too many materials"),
    "long_wait": ("等待时间长", "Long wait"),
    "repeated_visits": ("多次跑动", "Had to come back several times"),
    "unfriendly": ("态度不好", "Unfriendly staff"),
    "unclear_guide": ("告知不清", "Unclear guidance"),
}
ALL_TAGS = {**POSITIVE_TAGS, **NEGATIVE_TAGS}


def today() -> datetime.date:
    """Today in China (deadlines are calendar dates there)."""
    return timezone.localdate(timezone=TIME_ZONE)


def rate_link(number: str) -> str:
    return f"/me/applications/{number}/rate/"


def tags_for(level: int) -> dict[str, tuple[str, str]]:
    """Tags offered for ``level``: praise for 满意 and above, complaints for 不满意 and below,
    both for 基本满意."""
    if level >= Rating.Level.SATISFIED:
        return POSITIVE_TAGS
    if level <= BAD_LEVEL:
        return NEGATIVE_TAGS
    return ALL_TAGS


def _problem(name: str, code: str, message_zh: str, message_en: str) -> InvalidInput:
    return InvalidInput(message_zh, message_en, code=code, details={"errors": [
        {"field": name, "code": code, "message_zh": message_zh, "message_en": message_en}]})


def _text_hash(text: str) -> str | None:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else None


def _check_level(level: Any) -> int:
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise _problem("level", "invalid_level", "评价等级应为 1 至 5", "The rating level must be 1 to 5")
    return level


def _check_tags(level: int, tags) -> list[str]:
    tags = list(tags or ())
    allowed = tags_for(level)
    unknown = [tag for tag in tags if not isinstance(tag, str) or tag not in allowed]
    if unknown:
        raise InvalidInput("评价标签不适用于该评价等级", "A tag does not fit this rating level", code="invalid_tags",
                           details={"errors": [{"field": "tags", "code": "invalid_tags",
                                                "message_zh": "评价标签不适用于该评价等级",
                                                "message_en": "A tag does not fit this rating level"}],
                                    "unknown": [str(tag) for tag in unknown], "allowed": sorted(allowed)})
    return list(dict.fromkeys(tags))  # drop repeats, keep the order


# --- the applicant ----------------------------------------------------------------------------------------------


def _own_application(actor: Actor, number: str, *, lock: bool = False) -> Application:
    """The actor's own application; anyone else's is reported as not found."""
    require_authenticated(actor)
    if actor.kind not in ("citizen", "enterprise") or actor.user_id is None:
        raise NotFound()
    rows = Application.objects.select_related("item", "item__department", "applicant")
    if lock:
        rows = rows.select_for_update(of=("self",))
    application = rows.filter(number=str(number), applicant_id=actor.user_id).first()
    if application is None:
        raise NotFound()
    return application


def _ticket_of(rating: Rating | None) -> RectificationTicket | None:
    if rating is None:
        return None
    return RectificationTicket.objects.filter(rating=rating).select_related("department").first()


@dataclass
class RatingState:
    """What the rating page shows the applicant."""

    application: Application
    current: Rating | None
    ticket: RectificationTicket | None  # the current rating's ticket, if it opened one
    history: list[Rating] = field(default_factory=list)  # earlier ratings, newest first
    can_rate: bool = False
    rerating: bool = False


def rating_state(actor: Actor, number: str) -> RatingState:
    application = _own_application(actor, number)
    ratings = list(Rating.objects.filter(application=application).order_by("-created_at", "-pk"))
    current = next((r for r in ratings if r.is_current), None)
    ticket = _ticket_of(current)
    ratable = application.status in RATABLE_STATUSES
    rerating = current is not None and ticket is not None and ticket.status == TicketStatus.REPLIED
    return RatingState(application=application, current=current, ticket=ticket,
                       history=[r for r in ratings if not r.is_current],
                       can_rate=ratable and (current is None or rerating), rerating=rerating)


def rate(actor: Actor, number: str, *, level: int, tags=(), comment: str = "") -> Rating:
    """The applicant rates a finished application (see the module docstring for the rules)."""
    application = _own_application(actor, number, lock=True)
    if application.status not in RATABLE_STATUSES:
        raise Conflict("办件办结后才能评价", "An application can be rated once it is finished",
                       code="not_ratable", details={"status": application.status})
    level = _check_level(level)
    tags = _check_tags(level, tags)
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT:
        raise _problem("comment", "too_long", f"评价内容不得超过 {MAX_COMMENT} 个字符",
                       f"The comment is limited to {MAX_COMMENT} characters")
    if level <= BAD_LEVEL and not tags and not comment:
        raise _problem("comment", "reason_required", "不满意的评价请选择标签或写明原因，以便部门整改",
                       "Please pick a tag or say what went wrong, so the department can put it right")
    current = Rating.objects.select_for_update().filter(application=application, is_current=True).first()
    closed = None
    if current is not None:
        closed = _ticket_of(current)
        if closed is None or closed.status != TicketStatus.REPLIED:
            raise Conflict("该办件已评价", "This application has already been rated", code="already_rated")
        closed.status = TicketStatus.CLOSED
        closed.save(update_fields=["status"])
        current.is_current = False
        current.save(update_fields=["is_current"])
    rating = Rating.objects.create(application=application, level=level, tags=tags, comment=comment)
    ledger.record(actor=actor.username, action=RATED, subject=f"application:{application.number}",
                  payload={"level": level, "tags": tags, "comment_sha256": _text_hash(comment),
                           "rerating": current is not None, "closed_ticket": closed.pk if closed else None},
                  department=None, subject_ids=[application.subject])
    if level <= BAD_LEVEL:
        _open_ticket(actor, application, rating)
    return rating


def _open_ticket(actor: Actor, application: Application, rating: Rating) -> RectificationTicket:
    item = application.item
    days = item.rectification_days or DEFAULT_RECTIFICATION_DAYS
    ticket = RectificationTicket.objects.create(rating=rating, department=item.department,
                                                due_on=add_working_days(today(), days))
    ledger.record(actor=actor.username, action=TICKET_OPENED, subject=f"application:{application.number}",
                  payload={"ticket": ticket.pk, "level": rating.level, "due_on": ticket.due_on.isoformat(),
                           "working_days": days},
                  department=item.department.code, subject_ids=[application.subject])
    due = ticket.due_on.isoformat()
    notify(application.applicant, category="onestop.rectification",
           title_zh=f"您对办件 {application.number} 的评价已转交整改",
           title_en=f"Your rating of {application.number} was sent to the department to put right",
           body_zh=f"{item.department.name}将在 {due} 前答复您。收到答复后，您可以重新评价。",
           body_en=f"{item.department.name} will reply by {due}. Once it has, you may rate again.",
           link=rate_link(application.number))
    return ticket


# --- the department -------------------------------------------------------------------------------------------


def _is_bureau_official(actor: Actor) -> bool:
    return actor.kind == "official" and actor.is_bureau


def tickets_for(actor: Actor, *, status: str | None = None) -> QuerySet[RectificationTicket]:
    """The department's rectification tickets, open ones first by due date (the bureau: every
    department's)."""
    require_authenticated(actor)
    if actor.kind != "official" or not (_is_bureau_official(actor) or actor.has_role(*REPLY_ROLES)):
        raise PermissionDenied("只有部门工作人员可以查看整改工单", "Only department staff see rectification tickets")
    rows = RectificationTicket.objects.select_related(
        "department", "rating", "rating__application", "rating__application__item")
    if not _is_bureau_official(actor):
        rows = rows.filter(department_id=actor.department_id)
    if status:
        if status not in TicketStatus.values:
            raise _problem("status", "invalid_status", "工单状态无效", "Unknown ticket status")
        rows = rows.filter(status=status)
    return rows.order_by("status", "due_on", "pk")


def get_ticket(actor: Actor, ticket_id: int) -> RectificationTicket:
    ticket = tickets_for(actor).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound()
    return ticket


def may_reply(actor: Actor, ticket: RectificationTicket) -> bool:
    return (actor.kind == "official" and actor.department_id == ticket.department_id
            and actor.has_role(*REPLY_ROLES) and ticket.status == TicketStatus.OPEN)


def reply_ticket(actor: Actor, ticket_id: int, reply: str) -> RectificationTicket:
    """The department answers a bad rating: what it found and what it changed."""
    require_authenticated(actor)
    if actor.kind != "official":
        raise PermissionDenied("只有部门工作人员可以答复整改工单", "Only department staff reply to rectification tickets")
    ticket = (RectificationTicket.objects.select_for_update(of=("self",))
              .select_related("department", "rating__application__applicant", "rating__application__item")
              .filter(pk=ticket_id).first())
    if ticket is None or ticket.department_id != actor.department_id:
        if ticket is not None and _is_bureau_official(actor):
            raise PermissionDenied("整改工单由被评价部门答复", "The rated department replies to its tickets")
        raise NotFound()
    if not actor.has_role(*REPLY_ROLES):
        raise PermissionDenied("只有窗口、审批人员、数据管理员或部门管理员可以答复",
                               "Only a clerk, approver, steward or department admin replies")
    text = (reply or "").strip()
    if not text:
        raise _problem("reply", "reply_required", "请填写答复内容", "The reply is required")
    if len(text) > MAX_REPLY:
        raise _problem("reply", "too_long", f"答复不得超过 {MAX_REPLY} 个字符",
                       f"The reply is limited to {MAX_REPLY} characters")
    if ticket.status != TicketStatus.OPEN:
        raise Conflict("该工单已答复", "This ticket has already been answered", code="ticket_not_open",
                       details={"status": ticket.status})
    ticket.reply, ticket.replied_by, ticket.replied_at = text, actor.username, timezone.now()
    ticket.status = TicketStatus.REPLIED
    ticket.save(update_fields=["reply", "replied_by", "replied_at", "status"])
    application = ticket.rating.application
    ledger.record(actor=actor.username, action=TICKET_REPLIED, subject=f"application:{application.number}",
                  payload={"ticket": ticket.pk, "reply_sha256": _text_hash(text),
                           "overdue": today() > ticket.due_on},
                  department=actor.department_code, subject_ids=[application.subject])
    notify(application.applicant, category="onestop.rectification",
           title_zh=f"{ticket.department.name}已答复您对办件 {application.number} 的评价",
           title_en=f"{ticket.department.name} replied to your rating of {application.number}",
           body_zh="请查看答复；如有不同看法，您可以重新评价。",
           body_en="Read the reply; you may rate the application again.",
           link=rate_link(application.number))
    return ticket


def is_overdue(ticket: RectificationTicket, on: datetime.date | None = None) -> bool:
    return ticket.status == TicketStatus.OPEN and (on or today()) > ticket.due_on


def overdue_tickets(on: datetime.date | None = None) -> QuerySet[RectificationTicket]:
    """Open tickets past their reply date (for the bureau's oversight)."""
    return (RectificationTicket.objects.filter(status=TicketStatus.OPEN, due_on__lt=on or today())
            .select_related("department", "rating__application").order_by("due_on", "pk"))


# --- the default rating ---------------------------------------------------------------------------------------


def default_ratings(now: datetime.datetime | None = None) -> int:
    """Rate 基本满意 (defaulted) every completed application with no rating 7 days after its
    completion; returns how many. Callers hold the transaction."""
    cutoff = (now or timezone.now()) - DEFAULT_AFTER
    due = (Application.objects.filter(status=Status.COMPLETED, completed_at__lte=cutoff)
           .filter(~Exists(Rating.objects.filter(application=OuterRef("pk"))))
           .select_related("item__department").order_by("completed_at", "pk"))
    count = 0
    for application in due:
        locked = Application.objects.select_for_update().filter(pk=application.pk).first()
        if locked is None or Rating.objects.filter(application=application).exists():
            continue  # rated meanwhile
        Rating.objects.create(application=application, level=DEFAULT_LEVEL, defaulted=True)
        ledger.record(actor=DEFAULT_SWEEPER, action=DEFAULTED, subject=f"application:{application.number}",
                      payload={"level": int(DEFAULT_LEVEL), "completed_at": application.completed_at.isoformat()},
                      department=application.item.department.code, subject_ids=[application.subject])
        count += 1
    return count


@db_periodic_task(crontab(minute="15"), name="tongban.onestop.sweep_default_ratings")
def sweep_default_ratings() -> int:
    with transaction.atomic():
        return default_ratings()


# --- reading ---------------------------------------------------------------------------------------------------


def ratings_summary(department: Department | str | None = None) -> dict:
    """Current ratings: count, distribution by level, how many defaulted, the average and the
    share rated 基本满意 or better (``satisfaction``, 0..1; None when there are none)."""
    rows = Rating.objects.filter(is_current=True)
    if isinstance(department, Department):
        rows = rows.filter(application__item__department=department)
    elif department:
        rows = rows.filter(application__item__department__code=department)
    by_level = {level: 0 for level in sorted(LEVELS, reverse=True)}
    for level, n in rows.values_list("level").annotate(n=Count("pk")).order_by():
        by_level[level] = n
    count = sum(by_level.values())
    return {
        "count": count,
        "by_level": by_level,
        "defaulted": rows.filter(defaulted=True).count(),
        "average": round(sum(level * n for level, n in by_level.items()) / count, 2) if count else None,
        "satisfaction": round(sum(n for level, n in by_level.items() if level >= DEFAULT_LEVEL) / count, 4)
        if count else None,
    }
