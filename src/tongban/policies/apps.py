from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoliciesConfig(AppConfig):
    name = "tongban.policies"
    label = "policies"
    verbose_name = _("Policy service")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tongban.core.navigation import register_section
        from tongban.onestop.services import applications
        from tongban.policies.services.delivery import check_submission

        if check_submission not in applications.SUBMISSION_CHECKS:
            applications.SUBMISSION_CHECKS.append(check_submission)

        register_section("me", "/me/policies/", _("Policies for me"),
                         _("subsidies and benefits you qualify for, with the reasons"), 15,
                         testid="my-policies-link", kinds=("citizen", "enterprise"))
        register_section("workbench", "/workbench/policies/", _("Policy service"),
                         _("Publish policies, edit eligibility rules, run matching and supervise delivery."), 40)
