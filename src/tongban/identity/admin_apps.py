from django.contrib.admin.apps import AdminConfig


class TongbanAdminConfig(AdminConfig):
    """Django's admin app, with the back office behind the platform login (see admin_site)."""

    default_site = "tongban.identity.admin_site.TongbanAdminSite"
