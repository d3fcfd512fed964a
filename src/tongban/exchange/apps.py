from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ExchangeConfig(AppConfig):
    name = "tongban.exchange"
    label = "exchange"
    verbose_name = _("Data sharing and exchange")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tongban.core.backup import register_before_dump
        from tongban.core.navigation import register_section
        from tongban.exchange.services import access_queue, sealing

        # `tongban ledger integrate` (and its --follow loop) seals pending accesses first.
        sealing.register()
        # A backup holds every access answered before it, queued ones too.
        register_before_dump(access_queue.drain)
        register_section("me", "/me/data/", _("My data"), _("what departments hold about you, and who accessed it"),
                         20, testid="my-data-link", kinds=("citizen", "enterprise"))
        register_section("workbench", "/workbench/exchange/", _("Data sharing and exchange"),
                         _("Load records, request and grant access to other departments' data, and try a query."), 20)
