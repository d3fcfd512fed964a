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
