from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CredentialsConfig(AppConfig):
    name = "tongban.credentials"
    label = "credentials"
    verbose_name = _("Electronic certificates")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tongban.core.navigation import register_section

        register_section("me", "/me/credentials/", _("My certificates"),
                         _("your e-certificates: show the QR, download, use in an application"), 30,
                         testid="wallet-link", kinds=("citizen", "enterprise"))
        register_section("workbench", "/credentials/verify/", _("Verify a certificate"),
                         _("Check an e-certificate a citizen or enterprise presents: paste or upload its QR."), 40)
