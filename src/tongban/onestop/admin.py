"""Back office: one-stop rows are read-only here. Items are maintained through the services (the
API and the steward's pages: validation and the ledger), applications move only through their
state machine, ratings and tickets through theirs."""

from django.contrib import admin

from tongban.onestop.models import (
    Application,
    ApplicationEvent,
    InstantRule,
    Material,
    Rating,
    RectificationTicket,
    ReviewTask,
    ServiceItem,
    Upload,
)


class ReadOnly:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MaterialInline(ReadOnly, admin.TabularInline):
    model = Material
    extra = 0
    fields = ("order", "name", "necessity", "source", "certificate_type", "resource_code", "resource_items",
              "form_section", "paper_copies")


class InstantRuleInline(ReadOnly, admin.TabularInline):
    model = InstantRule
    extra = 0
    fields = ("version", "is_current", "logic", "description", "created_by", "created_at")
    readonly_fields = fields


@admin.register(ServiceItem)
class ServiceItemAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("code", "name", "item_type", "applicant_kind", "department", "status", "promised_days", "visits")
    list_filter = ("status", "item_type", "applicant_kind", "department", "theme")
    search_fields = ("code", "basic_code", "name", "name_en")
    inlines = [MaterialInline, InstantRuleInline]


class EventInline(ReadOnly, admin.TabularInline):
    model = ApplicationEvent
    extra = 0
    fields = ("at", "from_status", "to_status", "actor", "note")
    readonly_fields = fields


class TaskInline(ReadOnly, admin.TabularInline):
    model = ReviewTask
    extra = 0
    fields = ("department", "status", "opinion", "decided_by", "decided_at")


class UploadInline(ReadOnly, admin.TabularInline):
    model = Upload
    extra = 0
    fields = ("material", "original_name", "content_type", "size", "sha256", "uploaded_at")
    readonly_fields = fields


@admin.register(Application)
class ApplicationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("number", "item", "status", "due_on", "created_at", "submitted_at", "completed_at")
    list_filter = ("status", "item__department")
    search_fields = ("number", "item__code", "item__name")
    # The applicant's ID number / USCC (``subject``) is not shown in the back office lists.
    exclude = ("subject",)
    inlines = [TaskInline, UploadInline, EventInline]


@admin.register(Rating)
class RatingAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("application", "level", "defaulted", "is_current", "created_at")
    list_filter = ("level", "defaulted", "is_current")


@admin.register(RectificationTicket)
class RectificationTicketAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("pk", "department", "status", "due_on", "replied_at")
    list_filter = ("status", "department")
