"""Admin console of reports: list, filter, read, and mark handled."""
from __future__ import annotations

from django.contrib import admin

from .models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "reporter", "room_id", "event_id", "target_user_id", "short_reason",
                    "received_ts", "handled")
    list_filter = ("kind", "handled")
    search_fields = ("=reporter", "=room_id", "=event_id", "=target_user_id", "reason")
    readonly_fields = ("kind", "reporter", "room_id", "event_id", "target_user_id", "reason", "received_ts")
    actions = ("mark_handled", "mark_unhandled")

    def has_add_permission(self, request) -> bool:
        return False  # reports come from users only

    @admin.display(description="reason")
    def short_reason(self, obj: Report) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"

    @admin.action(description="Mark the selected reports handled")
    def mark_handled(self, request, queryset):
        self.message_user(request, f"{queryset.update(handled=True)} report(s) marked handled.")

    @admin.action(description="Mark the selected reports not handled")
    def mark_unhandled(self, request, queryset):
        self.message_user(request, f"{queryset.update(handled=False)} report(s) marked not handled.")
