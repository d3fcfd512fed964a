from django.db.models.signals import post_delete, post_save

from tongban.core.models import CalendarDay
from tongban.core.workdays import calendar_changed


def connect() -> None:
    post_save.connect(calendar_changed, sender=CalendarDay, dispatch_uid="core.calendar.save")
    post_delete.connect(calendar_changed, sender=CalendarDay, dispatch_uid="core.calendar.delete")
