from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogConfig(AppConfig):
    name = "tongban.catalog"
    label = "catalog"
    verbose_name = _("Data catalog and standards")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from tongban.catalog import validation
        from tongban.core.navigation import register_section

        validation.connect_cache_invalidation()
        post_migrate.connect(_prune_search_index, sender=self, dispatch_uid="catalog-prune-search")
        register_section("workbench", "/workbench/catalog/", _("Data catalog"),
                         _("Register and maintain your department's resources; the bureau reviews them."), 10)


def _prune_search_index(sender, using="default", **kwargs) -> None:
    from tongban.catalog import search

    search.prune_orphans(using)
