from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CredentialsConfig(AppConfig):
    name = "tongban.credentials"
    label = "credentials"
    verbose_name = _("Electronic certificates")
    default_auto_field = "django.db.models.BigAutoField"
