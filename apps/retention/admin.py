"""Admin console of retention: the recorded policies of rooms' retention events (read-only: they come
from room state, changed by sending a new `m.room.retention` event)."""
from __future__ import annotations

from django.contrib import admin

from .models import RetentionRule


@admin.register(RetentionRule)
class RetentionRuleAdmin(admin.ModelAdmin):
    list_display = ("room_id", "event_id", "min_lifetime", "max_lifetime")
    search_fields = ("=room_id", "=event_id")
    readonly_fields = ("event_id", "room_id", "min_lifetime", "max_lifetime")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
