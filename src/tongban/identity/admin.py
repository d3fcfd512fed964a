from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.utils.translation import gettext_lazy as _

from tongban.identity.models import Citizen, Department, Enterprise, Region, RoleAssignment, User


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "parent")
    list_filter = ("level",)
    search_fields = ("code", "name")


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "level", "region", "is_bureau")
    list_filter = ("level", "is_bureau")
    search_fields = ("code", "name", "uscc")


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    extra = 0


@admin.register(User)
class TongbanUserAdmin(UserAdmin):
    list_display = ("username", "full_name", "kind", "department", "is_active")
    list_filter = ("kind", "department", "is_active")
    search_fields = ("username", "full_name")
    inlines = [RoleAssignmentInline]
    fieldsets = (
        *UserAdmin.fieldsets,
        (_("Platform"), {"fields": ("kind", "full_name", "phone", "department")}),
    )


@admin.register(Citizen)
class CitizenAdmin(admin.ModelAdmin):
    list_display = ("name", "sex", "region")
    list_filter = ("sex", "region")
    search_fields = ("name",)  # ID numbers are looked up exactly, not listed
    raw_id_fields = ("user",)


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ("name", "uscc", "region", "industry_code")
    list_filter = ("region",)
    search_fields = ("name", "uscc")
    raw_id_fields = ("user",)
