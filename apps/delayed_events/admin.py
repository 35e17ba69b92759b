"""Admin console of delayed events: what is pending (by default), what was sent, cancelled or failed and
why; pending ones can be cancelled."""
from __future__ import annotations

import time

from django.contrib import admin

from .models import DelayedEvent


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return (("pending", "pending (scheduled or sending)"), *DelayedEvent.STATUSES, ("all", "all"))

    def choices(self, changelist):
        # "pending" is the default view, so the plain link is the one for everything.
        for lookup, title in self.lookup_choices:
            yield {"selected": (self.value() or "pending") == lookup,
                   "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                   "display": title}

    def queryset(self, request, queryset):
        value = self.value() or "pending"
        if value == "pending":
            return queryset.filter(status__in=(DelayedEvent.SCHEDULED, DelayedEvent.SENDING))
        if value == "all":
            return queryset
        return queryset.filter(status=value)


@admin.register(DelayedEvent)
class DelayedEventAdmin(admin.ModelAdmin):
    list_display = ("delay_id", "user_id", "room_id", "event_type", "state_key", "status", "delay_ms",
                    "due", "attempts", "event_id", "detail")
    list_filter = (StatusFilter,)
    search_fields = ("=delay_id", "=user_id", "=room_id", "=event_type", "=event_id")
    ordering = ("send_ts",)
    readonly_fields = [f.name for f in DelayedEvent._meta.fields]
    actions = ("cancel_selected",)

    def has_add_permission(self, request) -> bool:
        return False  # scheduled by users only

    @admin.display(description="due", ordering="send_ts")
    def due(self, obj: DelayedEvent) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(obj.send_ts / 1000))

    @admin.action(description="Cancel the selected pending delayed events")
    def cancel_selected(self, request, queryset):
        now = int(time.time() * 1000)
        n = queryset.filter(status=DelayedEvent.SCHEDULED).update(
            status=DelayedEvent.CANCELLED, finalised_ts=now, detail=f"cancelled by {request.user}")
        self.message_user(request, f"{n} delayed event(s) cancelled.")
