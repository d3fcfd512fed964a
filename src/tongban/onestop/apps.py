from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OnestopConfig(AppConfig):
    name = "tongban.onestop"
    label = "onestop"
    verbose_name = _("One-stop services")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tongban.core.navigation import register_section

        register_section("me", "/me/applications/", _("My applications"),
                         _("the services you applied for, their progress and results"), 10,
                         testid="my-applications-link", kinds=("citizen", "enterprise"))
        register_section("me", "/me/inbox/", _("Inbox"), _("messages about your applications"), 40,
                         testid="inbox-link")
        register_section("workbench", "/workbench/onestop/window/", _("One-window acceptance"),
                         _("Accept, refuse or ask for a supplement of submitted applications."), 30)
        register_section("workbench", "/workbench/onestop/tasks/", _("Department review"),
                         _("Approve or deny your department's part of parallel reviews."), 31)
        register_section("workbench", "/workbench/onestop/tickets/", _("Rectification of bad ratings"),
                         _("Reply to ratings of Dissatisfied or worse by their due date."), 32)
