"""Ratings (好差评) and rectification tickets under /api/v1/onestop: thin — parse, call the
service, shape. Every call runs in one transaction."""

from __future__ import annotations

import datetime

from django.db import transaction
from ninja import Field, Query, Router, Schema, Status

from tongban.onestop.models import Rating, RectificationTicket
from tongban.onestop.services import ratings

router = Router(tags=["onestop: ratings"])


class RatingIn(Schema):
    level: int = Field(..., description="5 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意")
    tags: list[str] = Field(default_factory=list, description="Tag codes fitting the level (see GET /rating-tags)")
    comment: str = ""


class TicketBrief(Schema):
    id: int
    status: str
    due_on: datetime.date
    reply: str
    replied_at: datetime.datetime | None


class RatingOut(Schema):
    application: str
    level: int
    level_label: str
    tags: list[str]
    comment: str
    defaulted: bool
    is_current: bool
    created_at: datetime.datetime
    ticket: TicketBrief | None


class RatingStateOut(Schema):
    application: str
    status: str
    can_rate: bool
    current: RatingOut | None
    history: list[RatingOut]


class ReplyIn(Schema):
    reply: str


class TicketOut(Schema):
    id: int
    application: str
    item: str
    item_name: str
    department: str
    level: int
    tags: list[str]
    comment: str
    status: str
    due_on: datetime.date
    overdue: bool
    reply: str
    replied_by: str
    replied_at: datetime.datetime | None
    created_at: datetime.datetime


class TicketList(Schema):
    items: list[TicketOut]
    count: int


class TicketFilter(Schema):
    status: str | None = Field(None, description="open, replied or closed")


class Tag(Schema):
    code: str
    zh: str
    en: str


class TagsOut(Schema):
    levels: dict[int, list[str]]
    positive: list[Tag]
    negative: list[Tag]


def _ticket_brief(ticket: RectificationTicket | None) -> dict | None:
    if ticket is None:
        return None
    return {"id": ticket.pk, "status": ticket.status, "due_on": ticket.due_on, "reply": ticket.reply,
            "replied_at": ticket.replied_at}


def rating_out(rating: Rating, number: str) -> dict:
    ticket = RectificationTicket.objects.filter(rating=rating).first()
    return {"application": number, "level": rating.level, "level_label": ratings.LEVELS[rating.level][1],
            "tags": rating.tags, "comment": rating.comment, "defaulted": rating.defaulted,
            "is_current": rating.is_current, "created_at": rating.created_at, "ticket": _ticket_brief(ticket)}


def ticket_out(ticket: RectificationTicket) -> dict:
    rating = ticket.rating
    application = rating.application
    return {"id": ticket.pk, "application": application.number, "item": application.item.code,
            "item_name": application.item.name, "department": ticket.department.code, "level": rating.level,
            "tags": rating.tags, "comment": rating.comment, "status": ticket.status, "due_on": ticket.due_on,
            "overdue": ratings.is_overdue(ticket), "reply": ticket.reply, "replied_by": ticket.replied_by,
            "replied_at": ticket.replied_at, "created_at": ticket.created_at}


@router.get("/rating-tags", response=TagsOut, auth=None, summary="The rating levels' tags (好差评标签)")
def rating_tags(request):
    return {"levels": {level: list(ratings.tags_for(level)) for level in ratings.LEVELS},
            "positive": [{"code": c, "zh": zh, "en": en} for c, (zh, en) in ratings.POSITIVE_TAGS.items()],
            "negative": [{"code": c, "zh": zh, "en": en} for c, (zh, en) in ratings.NEGATIVE_TAGS.items()]}


@router.post("/applications/{number}/rating", response={201: RatingOut},
             summary="Rate a finished application (applicant); 不满意 or worse opens a rectification ticket")
def rate(request, number: str, payload: RatingIn):
    with transaction.atomic():
        rating = ratings.rate(request.auth, number, level=payload.level, tags=payload.tags, comment=payload.comment)
        return Status(201, rating_out(rating, number))


@router.get("/applications/{number}/rating", response=RatingStateOut,
            summary="My rating of an application, the department's reply, and whether I may (re-)rate")
def rating_state(request, number: str):
    with transaction.atomic():
        state = ratings.rating_state(request.auth, number)
        return {"application": number, "status": state.application.status, "can_rate": state.can_rate,
                "current": rating_out(state.current, number) if state.current else None,
                "history": [rating_out(r, number) for r in state.history]}


@router.get("/tickets", response=TicketList,
            summary="My department's rectification tickets (差评整改; the bureau: all)")
def list_tickets(request, filters: Query[TicketFilter]):
    with transaction.atomic():
        rows = [ticket_out(t) for t in ratings.tickets_for(request.auth, status=filters.status)]
    return {"items": rows, "count": len(rows)}


@router.post("/tickets/{ticket_id}/reply", response=TicketOut,
             summary="Answer a rectification ticket (an official of the rated department)")
def reply(request, ticket_id: int, payload: ReplyIn):
    with transaction.atomic():
        return ticket_out(ratings.reply_ticket(request.auth, ticket_id, payload.reply))
