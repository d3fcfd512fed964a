from django.contrib import admin

from tongban.credentials.models import (
    CertificateType,
    Credential,
    Presentation,
    RemoteStatusList,
    TrustedRegion,
)


@admin.register(CertificateType)
class CertificateTypeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "department", "holder_kind", "validity_days", "multiple_allowed")
    search_fields = ("code", "name")


@admin.register(Credential)
class CredentialAdmin(admin.ModelAdmin):
    list_display = ("id", "type", "issued_at", "valid_until", "revoked_at", "suspended", "issued_by")
    list_filter = ("type", "suspended")
    readonly_fields = [f.name for f in Credential._meta.fields]

    def has_add_permission(self, request):
        return False  # credentials are issued through the service (ledger entry, status indexes)


@admin.register(TrustedRegion)
class TrustedRegionAdmin(admin.ModelAdmin):
    list_display = ("region", "name", "sequence", "imported_at", "removed_at")
    readonly_fields = ("token",)


@admin.register(RemoteStatusList)
class RemoteStatusListAdmin(admin.ModelAdmin):
    list_display = ("url", "region", "fetched_at", "expires_at", "error")
    list_filter = ("region",)
    readonly_fields = [f.name for f in RemoteStatusList._meta.fields]


@admin.register(Presentation)
class PresentationAdmin(admin.ModelAdmin):
    list_display = ("id", "credential", "audience", "created_at", "expires_at", "redeemed_at", "redeemed_by")
    readonly_fields = [f.name for f in Presentation._meta.fields]

    def has_add_permission(self, request):
        return False  # presentations are made by the holder through the service (ledger entry)
