from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "tongban.identity"
    label = "identity"
    verbose_name = _("Identity and access")

    def ready(self) -> None:
        from tongban.core.navigation import register_section
        from tongban.identity import signals

        signals.connect()
        register_section("workbench", "/workbench/officials/", _("Officials and roles"),
                         _("Who works in which department, with which roles."), 90)
