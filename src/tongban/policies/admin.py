"""Back office: policy rows are read-only here. Policies and their rules change only through the
services (the API and the workbench pages: validation, versions and the ledger); match runs,
deliveries, grants and ratings are records of what happened."""

from django.contrib import admin

from tongban.policies.models import (
    BenefitGrant,
    Delivery,
    EligibilityRule,
    MatchRun,
    Policy,
    PolicyRating,
    ProfileSnapshot,
)


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RuleInline(ReadOnly, admin.TabularInline):
    model = EligibilityRule
    extra = 0
    fields = ("version", "is_current", "logic", "description", "created_by", "created_at")
    readonly_fields = fields


@admin.register(Policy)
class PolicyAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("code", "title", "department", "target", "mode", "status", "valid_from", "valid_until",
                    "view_count")
    list_filter = ("status", "target", "mode", "theme", "department")
    search_fields = ("code", "title", "title_en", "document_number")
    inlines = [RuleInline]


@admin.register(ProfileSnapshot)
class ProfileSnapshotAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("pk", "target", "status", "rows", "as_of", "created_by", "created_at")
    list_filter = ("target", "status")


@admin.register(MatchRun)
class MatchRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("policy", "rule_version", "snapshot", "matched", "delivered", "granted", "duration_ms",
                    "created_at")
    list_filter = ("policy__department",)
    exclude = ("bitmap",)  # the matches themselves: ordinals of the snapshot, not for reading here


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("policy", "status", "rule_version", "amount", "notified_at", "due_on", "application_number")
    list_filter = ("status", "policy__department")
    search_fields = ("policy__code", "application_number")
    # The beneficiary's ID number / USCC and the profile values in the reasons are not shown here.
    exclude = ("subject", "reasons", "user")


@admin.register(BenefitGrant)
class BenefitGrantAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("policy", "amount", "rule_version", "granted_at", "ledger_event")
    list_filter = ("policy__department",)
    exclude = ("subject", "delivery")


@admin.register(PolicyRating)
class PolicyRatingAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("delivery", "score", "created_at")
    list_filter = ("score",)
