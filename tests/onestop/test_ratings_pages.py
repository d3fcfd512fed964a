"""The rating page (rate, thanks, the department's reply, re-rate) and the department's
rectification tickets page with its reply form."""

from __future__ import annotations

import pytest

from tests.onestop.factories import approver, bureau_admin, citizen_applicant, clerk, service_item
from tests.onestop.factories_ratings import application, rated
from tongban.onestop.models import Application, Rating, RectificationTicket

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


@pytest.fixture
def completed():
    user, _ = citizen_applicant()
    return application(service_item("market", name="个体工商户设立登记"), user)


def url(app) -> str:
    return f"/me/applications/{app.number}/rate/"


def test_rate_page_needs_a_login_and_the_applicant(client, completed):
    assert client.get(url(completed)).status_code == 302
    stranger, _ = citizen_applicant()
    client.force_login(stranger)
    assert client.get(url(completed)).status_code == 404
    client.force_login(completed.applicant)
    page = client.get(url(completed))
    body = page.content.decode()
    assert page.status_code == 200 and 'data-testid="rate-form"' in body and "个体工商户设立登记" in body
    assert all(f'data-testid="level-{n}"' in body for n in range(1, 6))
    pending = application(completed.item, completed.applicant, status=Application.Status.UNDER_REVIEW)
    body = client.get(url(pending)).content.decode()
    assert 'data-testid="not-ratable"' in body and 'data-testid="rate-form"' not in body


def test_rating_form_validates_then_thanks(client, completed):
    client.force_login(completed.applicant)
    missing = client.post(url(completed), {"comment": "x"})
    assert missing.status_code == 422 and 'data-testid="form-errors"' in missing.content.decode()
    bad = client.post(url(completed), {"level": "1"})
    assert bad.status_code == 422 and 'data-testid="form-errors"' in bad.content.decode()
    wrong = client.post(url(completed), {"level": "5", "tags": ["long_wait"], "comment": "保留的评论"})
    assert wrong.status_code == 422 and "保留的评论" in wrong.content.decode()  # the input is kept
    assert not Rating.objects.exists()
    done = client.post(url(completed), {"level": "5", "tags": ["quick", "no_visit"], "comment": "一次都没跑"})
    assert done.status_code == 302 and done["Location"].endswith("/rate/?thanks=1")
    page = client.get(done["Location"]).content.decode()
    assert 'data-testid="rating-thanks"' in page and 'data-testid="current-rating" data-level="5"' in page
    assert 'data-testid="rate-form"' not in page  # one rating
    rating = Rating.objects.get()
    assert rating.tags == ["quick", "no_visit"] and rating.comment == "一次都没跑"


def test_bad_rating_reply_and_rerate_through_the_pages(client, completed):
    client.force_login(completed.applicant)
    client.post(url(completed), {"level": "2", "tags": ["long_wait"], "comment": "排队两小时"})
    page = client.get(url(completed)).content.decode()
    assert 'data-testid="rectification" data-status="open"' in page and 'data-testid="rate-form"' not in page
    ticket = RectificationTicket.objects.get()

    other = approver("health")
    client.force_login(other)
    listed = client.get("/workbench/onestop/tickets/").content.decode()
    assert f'data-testid="ticket-{ticket.pk}"' not in listed and 'data-testid="no-tickets"' in listed
    assert client.post(f"/workbench/onestop/tickets/{ticket.pk}/reply/", {"reply": "越权"}).status_code == 404

    officer = clerk("market")
    client.force_login(officer)
    listed = client.get("/workbench/onestop/tickets/").content.decode()
    assert f'data-testid="ticket-{ticket.pk}" data-status="open"' in listed and "排队两小时" in listed
    assert f'data-testid="reply-form-{ticket.pk}"' in listed and 'data-testid="level-count-2">1<' in listed
    empty = client.post(f"/workbench/onestop/tickets/{ticket.pk}/reply/", {"reply": "  "})
    assert empty.status_code == 422 and 'data-testid="form-errors"' in empty.content.decode()
    sent = client.post(f"/workbench/onestop/tickets/{ticket.pk}/reply/", {"reply": "已增设两个窗口，高峰期分流。"})
    assert sent.status_code == 302
    listed = client.get("/workbench/onestop/tickets/?status=replied").content.decode()
    assert 'data-testid="reply">已增设两个窗口' in listed and f'data-testid="reply-form-{ticket.pk}"' not in listed

    client.force_login(completed.applicant)
    page = client.get(url(completed)).content.decode()
    assert 'data-testid="ticket-reply">已增设两个窗口' in page and 'data-testid="rate-form"' in page
    assert client.post(url(completed), {"level": "4", "tags": ["friendly"]}).status_code == 302
    page = client.get(url(completed)).content.decode()
    assert 'data-testid="current-rating" data-level="4"' in page and 'data-testid="rating-history"' in page
    assert RectificationTicket.objects.get().status == "closed"


def test_tickets_page_is_for_department_staff_and_the_bureau(client, completed):
    rated(completed, 1, comment="差")
    client.force_login(completed.applicant)
    assert client.get("/workbench/onestop/tickets/").status_code == 403
    client.force_login(bureau_admin())
    page = client.get("/workbench/onestop/tickets/").content.decode()
    ticket = RectificationTicket.objects.get()
    assert f'data-testid="ticket-{ticket.pk}"' in page and f'data-testid="reply-form-{ticket.pk}"' not in page
