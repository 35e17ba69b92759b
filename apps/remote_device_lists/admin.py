"""Admin console of the remote device-list cache: read it, and drop entries (the next lookup refetches)."""
from __future__ import annotations

from django.contrib import admin

from . import stores
from .models import RemoteDeviceList


@admin.register(RemoteDeviceList)
class RemoteDeviceListAdmin(admin.ModelAdmin):
    list_display = ("user_id", "generation", "fetched_ms", "is_cached")
    search_fields = ("user_id",)
    readonly_fields = ("user_id", "generation", "keys_json", "fetched_ms")
    actions = ("forget",)

    def has_add_permission(self, request) -> bool:
        return False  # rows are made by lookups only

    @admin.display(boolean=True, description="cached")
    def is_cached(self, obj: RemoteDeviceList) -> bool:
        return obj.keys_json is not None

    @admin.action(description="Forget the selected users' devices (refetched on the next lookup)")
    def forget(self, request, queryset):
        n = stores.invalidate(queryset.values_list("user_id", flat=True))
        self.message_user(request, f"{n} cached device list(s) forgotten.")
