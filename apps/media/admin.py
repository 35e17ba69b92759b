"""The operator's console for local media: list, preview, quarantine, delete.

Quarantined media answer 404 to every client; deletion goes through `handlers.delete_media` so the
files go too (a file shared by identical uploads stays until its last row is gone). Previews show only
thumbnails this server generated (PNG/JPEG), never the uploaded bytes, and carry the same sandboxing
headers as client downloads: the console shares an origin with uploaded content.
"""
from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.http import Http404, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from . import handlers, stores
from .models import Media, Thumbnail
from .views import serving_headers


def format_ms(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


class ThumbnailInline(admin.TabularInline):
    model = Thumbnail
    fields = ("width", "height", "method", "media_type", "length", "sha256")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0


@admin.register(Media)
class MediaAdmin(admin.ModelAdmin):
    list_display = ("media_id", "user_id", "media_type", "media_length", "upload_name", "created",
                    "status", "preview_small")
    list_filter = ("media_type", "authenticated", "safe_from_quarantine")
    search_fields = ("media_id", "user_id", "upload_name", "sha256")
    readonly_fields = ("media_id", "user_id", "media_type", "media_length", "sha256", "upload_name", "created",
                       "last_access", "unused_expires_at", "authenticated", "quarantined_by", "preview")
    fields = readonly_fields + ("safe_from_quarantine",)
    inlines = [ThumbnailInline]
    actions = ["quarantine", "unquarantine", "delete_with_files"]

    def has_add_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # would leave the files behind: use delete_with_files
        return actions

    @admin.display(description="created")
    def created(self, obj: Media) -> str:
        return format_ms(obj.created_ts)

    @admin.display(description="last access")
    def last_access(self, obj: Media) -> str:
        return format_ms(obj.last_access_ts)

    @admin.display(description="status")
    def status(self, obj: Media) -> str:
        if obj.quarantined_by:
            return f"quarantined by {obj.quarantined_by}"
        return "pending upload" if obj.is_pending else "ok"

    def _preview_img(self, obj: Media, size: int) -> str:
        if not stores.thumbnails(obj):
            return "—"
        url = reverse("admin:media_media_preview", args=[obj.pk])
        return format_html('<img src="{}" style="max-width:{}px;max-height:{}px" alt="preview">', url, size, size)

    @admin.display(description="preview")
    def preview_small(self, obj: Media) -> str:
        return self._preview_img(obj, 48)

    @admin.display(description="preview")
    def preview(self, obj: Media) -> str:
        return self._preview_img(obj, 320)

    def get_urls(self):
        return [path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view),
                     name="media_media_preview")] + super().get_urls()

    def preview_view(self, request, pk: int) -> HttpResponse:
        media = Media.objects.filter(pk=pk).first()
        if media is None:
            raise Http404
        thumbs = [t for t in stores.thumbnails(media) if t.media_type in ("image/png", "image/jpeg")]
        chosen, _ = handlers.select_thumbnail(thumbs, 320, 240, "scale", "image/png")
        if chosen is None:
            raise Http404
        with handlers.open_blob(chosen.sha256) as f:
            response = HttpResponse(f.read(), content_type=chosen.media_type)
        serving_headers(response, chosen.media_type, None, authenticated=True)
        return response

    @admin.action(description="Quarantine (hide from clients)")
    def quarantine(self, request, queryset):
        n = handlers.quarantine(list(queryset.values_list("media_id", flat=True)), by=request.user.user_id)
        messages.success(request, f"Quarantined {n} media (media marked safe from quarantine are skipped).")

    @admin.action(description="Remove from quarantine")
    def unquarantine(self, request, queryset):
        n = handlers.unquarantine(list(queryset.values_list("media_id", flat=True)))
        messages.success(request, f"Released {n} media from quarantine.")

    @admin.action(description="Delete media and their files")
    def delete_with_files(self, request, queryset):
        n = 0
        for media in queryset:
            handlers.delete_media(media)
            n += 1
        messages.success(request, f"Deleted {n} media.")

    def delete_model(self, request, obj: Media) -> None:
        handlers.delete_media(obj)

    def delete_queryset(self, request, queryset) -> None:
        for media in queryset:
            handlers.delete_media(media)
