"""The operator's console for application services: where each service's delivery stands.

The registrations themselves live in the files of `app_service_config_files`; what is shown here is the
durable delivery state (position, in-flight transaction, failures and backoff, lease) and the services'
published room lists. One action: "retry now" clears a backoff, so the next wake-up sends at once.
"""
from __future__ import annotations

from django.contrib import admin

from .models import AppServiceRoomListing, AppServiceState


@admin.register(AppServiceState)
class AppServiceStateAdmin(admin.ModelAdmin):
    list_display = ("appservice_id", "stream_position", "txn_id", "failures", "retry_at_ms", "last_error",
                    "lease_owner")
    readonly_fields = ("appservice_id", "stream_position", "next_txn_id", "txn_id", "txn_body", "txn_up_to",
                       "failures", "retry_at_ms", "last_error", "lease_owner", "lease_until_ms")
    actions = ("retry_now",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry now (end the backoff and wake the appservice queue)")
    def retry_now(self, request, queryset):
        from .wakeups import wake

        ids = list(queryset.values_list("appservice_id", flat=True))
        queryset.update(retry_at_ms=None)
        for service_id in ids:
            wake(service_id)
        self.message_user(request, f"Woke {len(ids)} application service(s).")


@admin.register(AppServiceRoomListing)
class AppServiceRoomListingAdmin(admin.ModelAdmin):
    list_display = ("appservice_id", "network_id", "room_id")
    list_filter = ("appservice_id", "network_id")
    search_fields = ("room_id",)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
