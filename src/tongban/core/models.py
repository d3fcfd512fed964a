from django.db import models
from django.utils.translation import gettext_lazy as _


class PlatformFlag(models.Model):
    """A small platform-wide fact, e.g. that the database holds synthetic demo data."""

    key = models.CharField(_("key"), max_length=60, unique=True)
    value = models.CharField(_("value"), max_length=200)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("platform flag")
        verbose_name_plural = _("platform flags")

    def __str__(self) -> str:
        return f"{self.key}={self.value}"

    DEMO_DATA = "demo_data"


class CalendarDay(models.Model):
    """An exception to the Monday–Friday working week: a public holiday on a weekday, or a
    weekend day worked in exchange (调休). Deadlines in working days read this table; the bureau
    maintains it each year when the State Council publishes the schedule."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Public holiday (no work)")
        WORKDAY = "workday", _("Make-up working day")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("calendar exception")
        verbose_name_plural = _("calendar exceptions")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}"
