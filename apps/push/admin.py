"""The operator's console for pushers: who pushes where, how far each pusher has got, and whether it is
failing. An operator may delete a pusher (a gateway that rejects everything); creating or editing one
is the user's business (POST /pushers/set)."""
from __future__ import annotations

from django.contrib import admin

from .models import Pusher


@admin.register(Pusher)
class PusherAdmin(admin.ModelAdmin):
    list_display = ("user_id", "kind", "app_id", "app_display_name", "device_display_name", "last_stream_ordering",
                    "failing_since_ts")
    list_filter = ("kind", "app_id")
    search_fields = ("user_id", "app_id", "pushkey")
    readonly_fields = [f.name for f in Pusher._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
