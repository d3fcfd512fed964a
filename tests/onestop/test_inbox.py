"""The inbox page: the user's own messages, the unread count, mark as read, open a link."""

from __future__ import annotations

import pytest

from tests.onestop.factories import citizen_applicant, clerk
from tongban.core.models import Notification
from tongban.core.notifications import notify

pytestmark = pytest.mark.django_db
URL = "/me/inbox/"


@pytest.fixture(autouse=True)
def _no_mfa(settings):
    settings.TONGBAN_MFA_REQUIRED = False


def message(user, title="您的办件已受理", link="/me/applications/TEST1/"):
    return notify(user, category="onestop.application", title_zh=title, title_en="Your application was accepted",
                  body_zh="请留意后续通知。", body_en="Watch for the next message.", link=link)


def test_inbox_lists_only_my_messages_with_the_unread_count(client):
    user, _ = citizen_applicant()
    mine = message(user)
    other, _ = citizen_applicant()
    theirs = message(other, title="别人的消息")
    assert client.get(URL).status_code == 302
    client.force_login(user)
    body = client.get(URL).content.decode()
    assert f'data-testid="message-{mine.pk}" data-read="0"' in body and "您的办件已受理" in body
    assert f'data-testid="message-{theirs.pk}"' not in body and "别人的消息" not in body
    assert 'data-testid="unread-count" data-count="1"' in body
    client.post("/i18n/setlang/", {"language": "en", "next": URL})
    english = client.get(URL).content.decode()
    assert "Your application was accepted" in english and "您的办件已受理" not in english


def test_mark_read_open_and_read_all(client):
    user, _ = citizen_applicant()
    first, second, third = message(user), message(user, link="https://evil.example/"), message(user, link="")
    client.force_login(user)
    assert client.post(f"{URL}{first.pk}/read/").status_code == 302
    first.refresh_from_db()
    assert first.read_at is not None
    body = client.get(f"{URL}?unread=1").content.decode()
    assert f'data-testid="message-{first.pk}"' not in body and 'data-count="2"' in body

    opened = client.get(f"{URL}{second.pk}/")
    assert opened.status_code == 302 and opened["Location"] == URL  # never off-site
    second.refresh_from_db()
    assert second.read_at is not None
    first.read_at = None
    first.save()
    assert client.get(f"{URL}{first.pk}/")["Location"] == "/me/applications/TEST1/"

    someone, _ = citizen_applicant()
    foreign = message(someone)
    client.post(f"{URL}{foreign.pk}/read/")
    assert client.get(f"{URL}{foreign.pk}/")["Location"] == URL
    foreign.refresh_from_db()
    assert foreign.read_at is None  # not mine: untouched

    assert client.post(f"{URL}read-all/").status_code == 302
    assert not Notification.objects.filter(user=user, read_at=None).exists()
    assert 'data-count="0"' in client.get(URL).content.decode()
    assert third.link == ""


def test_officials_have_an_inbox_too(client):
    officer = clerk("market")
    client.force_login(officer)
    assert 'data-testid="inbox-empty"' in client.get(URL).content.decode()
