"""Back office: data standards are maintained here by the bureau; resources are read-only here
(their lifecycle goes through the services: review, versioning and the ledger)."""

from django.contrib import admin

from tongban.catalog.models import CodeList, CodeListEntry, DataElement, Item, Resource, ReviewComment


class CodeListEntryInline(admin.TabularInline):
    model = CodeListEntry
    extra = 0


@admin.register(CodeList)
class CodeListAdmin(admin.ModelAdmin):
    list_display = ("identifier", "name", "standard", "version")
    search_fields = ("identifier", "name")
    inlines = [CodeListEntryInline]


@admin.register(DataElement)
class DataElementAdmin(admin.ModelAdmin):
    list_display = ("identifier", "version", "name", "data_type", "code_list", "is_current")
    list_filter = ("data_type", "is_current")
    search_fields = ("identifier", "name", "name_en")


class ItemInline(admin.TabularInline):
    model = Item
    extra = 0
    can_delete = False
    fields = ("order", "key", "name", "data_element", "data_type", "required", "is_subject_key", "grade",
              "personal_sensitive", "masking")
    readonly_fields = fields


class ReviewCommentInline(admin.TabularInline):
    model = ReviewComment
    extra = 0
    can_delete = False
    readonly_fields = ("created_at", "author", "decision", "comment")
    fields = readonly_fields


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = ("code", "version", "name", "department", "status", "sharing", "opening", "quality_score")
    list_filter = ("status", "sharing", "opening", "theme", "department")
    search_fields = ("code", "name")
    inlines = [ItemInline, ReviewCommentInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
