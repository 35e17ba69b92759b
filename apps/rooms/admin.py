"""The operator's console for rooms and events: read-only views.

Events are immutable and state is derived from them, so nothing here edits a row; changes to rooms
(shutdown, purge) will be actions that call handlers; moving rooms to another event persister is one
(`apps.rooms.handover`).
"""
from __future__ import annotations

from django.contrib import admin

from .models import CurrentState, EventRow, Room, RoomMembership, RoomPersister


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CurrentStateInline(admin.TabularInline):
    model = CurrentState
    fields = ("type", "state_key", "event_id", "membership")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Room)
class RoomAdmin(ReadOnlyAdmin):
    list_display = ("room_id", "room_version", "creator", "is_public", "created", "writer")
    list_filter = ("room_version", "is_public")
    search_fields = ("room_id", "creator")
    inlines = [CurrentStateInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("persister")

    def get_actions(self, request):
        """One "Move to <persister>" action per configured event persister (apps.rooms.handover)."""
        from hsproject import instance

        actions = super().get_actions(request)
        writers = instance.writers_of("events")
        if len(writers) > 1 and request.user.is_superuser:
            for writer in writers:
                name = f"move_to_{writer}"
                actions[name] = (_move_action(writer), name, f"Move the selected rooms to event persister {writer}")
        return actions

    @admin.display(description="event persister")
    def writer(self, obj: Room) -> str:
        try:
            return obj.persister.instance_name
        except RoomPersister.DoesNotExist:
            return "—"


@admin.register(EventRow)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "room_id", "type", "state_key", "sender", "depth", "stream_ordering",
                    "outlier", "soft_failed", "rejected_reason")
    list_filter = ("type", "outlier", "soft_failed")
    search_fields = ("=event_id", "=room__room_id", "sender")
    readonly_fields = [f.name for f in EventRow._meta.fields]


@admin.register(RoomMembership)
class RoomMembershipAdmin(ReadOnlyAdmin):
    list_display = ("user_id", "room_id", "membership", "event_id", "stream_ordering")
    list_filter = ("membership",)
    search_fields = ("=user_id", "=room__room_id")


# --- room aliases (apps/rooms/aliases.py) --------------------------------------------------------------

from .models import RoomAlias  # noqa: E402


@admin.register(RoomAlias)
class RoomAliasAdmin(ReadOnlyAdmin):
    list_display = ("alias", "room", "creator", "created")
    search_fields = ("alias", "room__room_id", "creator")


def _move_action(target: str):
    def move(modeladmin, request, queryset):
        from django.contrib import messages

        from apps.core.errors import MatrixError

        from .handover import move_room

        moved = 0
        for room in queryset:
            try:
                if move_room(room.room_id, target) != target:
                    moved += 1
            except MatrixError as e:
                modeladmin.message_user(request, f"{room.room_id}: {e.error}", messages.ERROR)
        modeladmin.message_user(request, f"{moved} room(s) moved to {target}.", messages.SUCCESS)
    return move
