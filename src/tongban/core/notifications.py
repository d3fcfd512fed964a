"""Notifications: every message lands in the recipient's in-site inbox (``Notification``) and
is handed to the configured extra channels (e-mail, SMS). A channel is a class with
``send(notification)``; ``TONGBAN_NOTIFICATION_BACKENDS`` lists their dotted paths. The default
is the console backend, which logs only that a message was sent (never its personal content),
so development needs no mail or SMS gateway."""

from __future__ import annotations

import logging
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils.translation import get_language

from tongban.core.models import Notification

logger = logging.getLogger("tongban.notifications")


class ConsoleBackend:
    """Development channel: a log line per message, without its content (it may be personal)."""

    def send(self, notification: Notification) -> None:
        logger.info("notification %s (%s) to user %s", notification.pk, notification.category, notification.user_id)


@lru_cache(maxsize=1)
def _backends() -> tuple:
    paths = getattr(settings, "TONGBAN_NOTIFICATION_BACKENDS", ["tongban.core.notifications.ConsoleBackend"])
    return tuple(import_string(path)() for path in paths)


def notify(user, *, category: str, title_zh: str, title_en: str, body_zh: str = "", body_en: str = "",
           link: str = "") -> Notification:
    """Put a message in ``user``'s inbox (in the caller's transaction); the extra channels are
    sent after the commit, so a rolled-back change sends nothing."""
    notification = Notification.objects.create(user=user, category=category, title_zh=title_zh[:200],
                                               title_en=title_en[:200], body_zh=body_zh, body_en=body_en, link=link)

    def send() -> None:
        for backend in _backends():
            try:
                backend.send(notification)
            except Exception:  # noqa: BLE001 - the inbox has it; a failing channel must not fail the change
                logger.exception("notification channel %s failed for %s", type(backend).__name__, notification.pk)

    transaction.on_commit(send)
    return notification


def inbox(user, *, unread_only: bool = False, limit: int = 50):
    rows = Notification.objects.filter(user=user)
    if unread_only:
        rows = rows.filter(read_at=None)
    return rows[:limit]


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at=None).count()


def mark_read(user, notification_id: int) -> None:
    from django.utils import timezone

    Notification.objects.filter(user=user, pk=notification_id, read_at=None).update(read_at=timezone.now())


def title_of(notification: Notification) -> str:
    return notification.title_en if (get_language() or "").startswith("en") else notification.title_zh


def body_of(notification: Notification) -> str:
    return notification.body_en if (get_language() or "").startswith("en") else notification.body_zh
