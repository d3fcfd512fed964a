from django.contrib import admin

from tongban.credentials.models import CertificateType, Credential, TrustedRegion


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
