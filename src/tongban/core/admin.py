from django.contrib import admin

from tongban.core.models import CalendarDay, PlatformFlag


@admin.register(PlatformFlag)
class PlatformFlagAdmin(admin.ModelAdmin):
    list_display = ("key", "value", "updated_at")


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    list_display = ("date", "kind", "name")
    list_filter = ("kind",)
    date_hierarchy = "date"
