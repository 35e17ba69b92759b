"""The operator's console of room and user statistics: read-only lists (the figures are computed by the
`background.update_room_stats` task every minute, apps.room_stats.updater), sortable by size and state."""
from __future__ import annotations

from django.contrib import admin
from django.db.models.functions import Coalesce

from .models import RoomStats, UserStats


class _ReadOnly(admin.ModelAdmin):
    actions = None

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(RoomStats)
class RoomStatsAdmin(_ReadOnly):
    list_display = ("room", "name_or_alias", "joined_members", "local_users_in_room", "invited_members",
                    "banned_members", "current_state_events", "encryption", "room_version", "join_rules",
                    "is_federatable")
    list_filter = ("room_version", "encryption", "join_rules", "is_federatable", "room_type")
    search_fields = ("=room__room_id", "name", "canonical_alias", "creator")
    ordering = ("-joined_members",)
    readonly_fields = [f.name for f in RoomStats._meta.fields]
    show_full_result_count = False

    @admin.display(description="name / alias", ordering=Coalesce("name", "canonical_alias"))
    def name_or_alias(self, obj: RoomStats) -> str:
        return obj.name or obj.canonical_alias or "—"


@admin.register(UserStats)
class UserStatsAdmin(_ReadOnly):
    list_display = ("user_id", "joined_rooms", "completed_stream_id")
    search_fields = ("user_id",)
    ordering = ("-joined_rooms",)
