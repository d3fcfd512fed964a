"""Ratings (好差评): who rates what, one current rating, bad ratings open rectification tickets
due in working days, the department's reply, re-rating, and the 7-day default."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from tests.onestop.factories import (
    actor,
    approver,
    bureau_admin,
    citizen_applicant,
    clerk,
    official_user,
    service_item,
)
from tests.onestop.factories_ratings import application, rated
from tongban.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tongban.core.models import CalendarDay, Notification
from tongban.ledger.models import LedgerEvent
from tongban.onestop.models import Application, Rating, RectificationTicket
from tongban.onestop.services import ratings

pytestmark = pytest.mark.django_db
D = datetime.date
MONDAY_BEFORE_NATIONAL_DAY = D(2026, 9, 28)


@pytest.fixture
def completed():
    user, _ = citizen_applicant()
    return application(service_item("market"), user)


def rate(app, level, **kwargs):
    with transaction.atomic():
        return ratings.rate(actor(app.applicant), app.number, level=level, **kwargs)


def reply(user, ticket, text="已核查并改进：材料清单已精简。"):
    with transaction.atomic():
        return ratings.reply_ticket(actor(user), ticket.pk, text)


# --- validation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 6, "5", True, None, 2.5])
def test_level_must_be_one_to_five(completed, level):
    with pytest.raises(InvalidInput) as error:
        rate(completed, level)
    assert error.value.code == "invalid_level"


def test_tags_must_fit_the_polarity(completed):
    with pytest.raises(InvalidInput) as error:
        rate(completed, 5, tags=["long_wait"])
    assert error.value.code == "invalid_tags" and error.value.details["unknown"] == ["long_wait"]
    with pytest.raises(InvalidInput):
        rate(completed, 1, tags=["quick"])
    with pytest.raises(InvalidInput):
        rate(completed, 4, tags=["no-such-tag"])
    with pytest.raises(InvalidInput) as error:
        rate(completed, 4, comment="好" * (ratings.MAX_COMMENT + 1))
    assert error.value.code == "too_long"
    assert not Rating.objects.exists()
    rating = rate(completed, 3, tags=["quick", "long_wait", "quick"], comment="  还行  ")
    assert rating.tags == ["quick", "long_wait"] and rating.comment == "还行" and rating.is_current


def test_a_bad_rating_needs_a_tag_or_a_comment(completed):
    with pytest.raises(InvalidInput) as error:
        rate(completed, 2)
    assert error.value.code == "reason_required"
    assert rate(completed, 2, comment="窗口让我跑了两次").level == 2


def test_only_the_applicant_rates_and_only_when_finished(completed):
    other, _ = citizen_applicant()
    for someone in (actor(other), actor(clerk("market"))):
        with pytest.raises(NotFound):
            ratings.rate(someone, completed.number, level=5)
    with pytest.raises(NotFound):
        ratings.rate(actor(completed.applicant), "NO-SUCH", level=5)
    pending = application(completed.item, completed.applicant, status=Application.Status.UNDER_REVIEW)
    with pytest.raises(Conflict) as error:
        rate(pending, 5)
    assert error.value.code == "not_ratable"
    denied = application(completed.item, completed.applicant, status=Application.Status.DENIED)
    assert rate(denied, 1, tags=["many_materials"]).level == 1  # a denial is rated too


def test_one_current_rating(completed):
    first = rated(completed, 5, tags=["quick"], comment="很快")
    with pytest.raises(Conflict) as error:
        rate(completed, 4)
    assert error.value.code == "already_rated"
    assert list(Rating.objects.values_list("pk", flat=True)) == [first.pk]
    event = LedgerEvent.objects.get(action=ratings.RATED)
    assert event.subject == f"application:{completed.number}" and event.actor == completed.applicant.username
    assert not RectificationTicket.objects.exists()  # a good rating opens no ticket


# --- rectification ------------------------------------------------------------------------------------------------


def test_a_bad_rating_opens_a_ticket_due_in_15_working_days_over_national_day(completed, monkeypatch):
    assert CalendarDay.objects.filter(date=D(2026, 10, 1), kind="holiday").exists()
    monkeypatch.setattr(ratings, "today", lambda: MONDAY_BEFORE_NATIONAL_DAY)
    rating = rate(completed, 1, tags=["repeated_visits"], comment="跑了三次")
    ticket = RectificationTicket.objects.get(rating=rating)
    # 29, 30 Sep; 1–7 Oct off; 8, 9, 10 (Saturday worked), 12–16, 19–23 Oct.
    assert ticket.due_on == D(2026, 10, 23)
    assert ticket.department == completed.item.department and ticket.status == "open"
    assert LedgerEvent.objects.filter(action=ratings.TICKET_OPENED, department="market").count() == 1
    note = Notification.objects.get(user=completed.applicant)
    assert note.link == f"/me/applications/{completed.number}/rate/" and "2026-10-23" in note.body_zh
    assert ratings.is_overdue(ticket, D(2026, 10, 26)) and not ratings.is_overdue(ticket, D(2026, 10, 23))
    assert list(ratings.overdue_tickets(D(2026, 10, 26))) == [ticket]


def test_rectification_days_are_set_per_item(monkeypatch):
    monkeypatch.setattr(ratings, "today", lambda: MONDAY_BEFORE_NATIONAL_DAY)
    user, _ = citizen_applicant()
    app = application(service_item("market", rectification_days=5), user)
    rate(app, 2, tags=["long_wait"])
    assert RectificationTicket.objects.get().due_on == D(2026, 10, 10)


def test_only_the_rated_department_replies(completed):
    rating = rate(completed, 2, tags=["long_wait"])
    ticket = rating.ticket
    with pytest.raises(NotFound):
        reply(approver("health"), ticket)  # another department: as if it did not exist
    with pytest.raises(PermissionDenied):
        reply(bureau_admin(), ticket)  # the bureau sees it but does not answer for the department
    with pytest.raises(PermissionDenied):
        reply(official_user("market", "auditor"), ticket)
    with pytest.raises(PermissionDenied):
        reply(completed.applicant, ticket)
    with pytest.raises(InvalidInput) as error:
        reply(clerk("market"), ticket, "   ")
    assert error.value.code == "reply_required"
    ticket.refresh_from_db()
    assert ticket.status == "open" and not LedgerEvent.objects.filter(action=ratings.TICKET_REPLIED).exists()


def test_reply_tells_the_applicant_who_may_rerate_which_closes_the_ticket(completed):
    first = rate(completed, 1, tags=["unfriendly"])
    with pytest.raises(Conflict):
        rate(completed, 4)  # not before the department replied
    state = ratings.rating_state(actor(completed.applicant), completed.number)
    assert not state.can_rate and state.ticket.status == "open"

    officer = clerk("market")
    answered = reply(officer, first.ticket)
    assert answered.status == "replied" and answered.replied_by == officer.username and answered.replied_at
    with pytest.raises(Conflict) as error:
        reply(officer, first.ticket)
    assert error.value.code == "ticket_not_open"
    told = Notification.objects.filter(user=completed.applicant).order_by("-pk").first()
    assert "replied" in told.title_en and told.link.endswith("/rate/")
    event = LedgerEvent.objects.get(action=ratings.TICKET_REPLIED)
    assert event.department == "market" and event.actor == officer.username

    state = ratings.rating_state(actor(completed.applicant), completed.number)
    assert state.can_rate and state.rerating and state.ticket.reply.startswith("已核查")
    second = rate(completed, 4, tags=["friendly"])
    first.refresh_from_db()
    assert second.is_current and not first.is_current
    assert RectificationTicket.objects.get(pk=first.ticket.pk).status == "closed"
    assert Rating.objects.get(application=completed, is_current=True) == second
    with pytest.raises(Conflict):
        rate(completed, 5)  # the re-rating is final (it opened no ticket)
    state = ratings.rating_state(actor(completed.applicant), completed.number)
    assert state.current == second and state.history == [first] and state.ticket is None


def test_tickets_are_listed_to_their_department_and_the_bureau(completed):
    ticket = rate(completed, 2, tags=["long_wait"]).ticket
    user, _ = citizen_applicant()
    other = application(service_item("health"), user)
    other_ticket = rate(other, 1, comment="差").ticket
    assert list(ratings.tickets_for(actor(clerk("market")))) == [ticket]
    assert list(ratings.tickets_for(actor(approver("health")))) == [other_ticket]
    assert set(ratings.tickets_for(actor(bureau_admin()))) == {ticket, other_ticket}
    with pytest.raises(PermissionDenied):
        ratings.tickets_for(actor(completed.applicant))
    with pytest.raises(NotFound):
        ratings.get_ticket(actor(clerk("market")), other_ticket.pk)


# --- the default rating -------------------------------------------------------------------------------------------


def test_no_rating_within_seven_days_counts_as_basically_satisfied():
    now = timezone.now()
    user, _ = citizen_applicant()
    item = service_item("market")
    old = application(item, user, completed_at=now - datetime.timedelta(days=7, minutes=1))
    recent = application(item, user, completed_at=now - datetime.timedelta(days=6, hours=23))
    rated_old = application(item, user, completed_at=now - datetime.timedelta(days=30))
    rated(rated_old, 5)
    denied = application(item, user, status=Application.Status.DENIED, decided_at=now - datetime.timedelta(days=30))
    with transaction.atomic():
        assert ratings.default_ratings(now) == 1
    rating = Rating.objects.get(application=old)
    assert rating.level == 3 and rating.defaulted and rating.is_current
    assert not Rating.objects.filter(application__in=[recent, denied]).exists()
    assert Rating.objects.get(application=rated_old).level == 5
    assert LedgerEvent.objects.filter(action=ratings.DEFAULTED, actor=ratings.DEFAULT_SWEEPER).count() == 1
    with transaction.atomic():
        assert ratings.default_ratings(now) == 0  # idempotent
    with pytest.raises(Conflict):
        rate(old, 1, comment="迟到的差评")  # the default stands
    assert ratings.sweep_default_ratings.call_local() == 0


def test_summary_counts_current_ratings_by_level(completed):
    rate(completed, 1, comment="差")
    reply(clerk("market"), Rating.objects.get().ticket)
    rate(completed, 4)
    user, _ = citizen_applicant()
    rated(application(service_item("health"), user), 5)
    summary = ratings.ratings_summary()
    assert summary["count"] == 2 and summary["by_level"] == {5: 1, 4: 1, 3: 0, 2: 0, 1: 0}
    assert summary["average"] == 4.5 and summary["satisfaction"] == 1.0
    market = ratings.ratings_summary("market")
    assert market["count"] == 1 and market["by_level"][4] == 1
    assert ratings.ratings_summary("nobody")["average"] is None
