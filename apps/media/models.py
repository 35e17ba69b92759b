"""Tables of the media repository: local media and their thumbnails.

A row's bytes live in the storage backend (`storage.py`) under their SHA-256, so identical uploads share
one file; a row with `sha256 = NULL` is a pending asynchronous upload (`POST /_matrix/media/v1/create`).
Media of other servers, fetched over federation and cached, are rows of the same table with their
`origin` (the server name of their `mxc://` URI); local media have `origin = ""`. Thumbnails, storage,
quarantine and expiry are the same for both.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models


class Media(models.Model):
    """`mxc://<origin or this server>/<media_id>`."""

    # "" for local media; the remote server's name for a cached remote media.
    origin = models.CharField(max_length=255, default="", blank=True, db_index=True)
    media_id = models.CharField(max_length=255)
    user_id = models.CharField(max_length=255, db_index=True, help_text="The uploader (empty for remote media).")
    media_type = models.CharField(max_length=255, blank=True, default="application/octet-stream")
    media_length = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, null=True, blank=True, db_index=True,
                              help_text="Content hash; the storage key. Empty while an async upload is pending.")
    upload_name = models.CharField(max_length=255, null=True, blank=True)
    created_ts = models.BigIntegerField(help_text="Milliseconds since the epoch.")
    # Pending async uploads only: the upload must arrive before this (spec: createContent).
    unused_expires_at = models.BigIntegerField(null=True, blank=True)
    last_access_ts = models.BigIntegerField(null=True, blank=True)
    # Uploaded while `enable_authenticated_media` was on: never served on the deprecated
    # unauthenticated endpoints (the spec's freeze, as Synapse's `local_media_repository.authenticated`).
    authenticated = models.BooleanField(default=True)
    quarantined_by = models.CharField(max_length=255, null=True, blank=True)
    safe_from_quarantine = models.BooleanField(default=False)

    class Meta:
        db_table = "media_local"
        ordering = ("-created_ts",)
        verbose_name_plural = "media"
        constraints = [models.UniqueConstraint(fields=("origin", "media_id"), name="media_origin_id_unique")]

    def __str__(self) -> str:
        return self.mxc_uri

    @property
    def mxc_uri(self) -> str:
        return f"mxc://{self.origin or settings.HS.server_name}/{self.media_id}"

    @property
    def is_remote(self) -> bool:
        return bool(self.origin)

    @property
    def is_pending(self) -> bool:
        return self.sha256 is None


class Thumbnail(models.Model):
    media = models.ForeignKey(Media, on_delete=models.CASCADE, related_name="thumbnails")
    width = models.IntegerField()
    height = models.IntegerField()
    method = models.CharField(max_length=8)  # "crop" or "scale": the requirement it was made for
    media_type = models.CharField(max_length=64)
    length = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)

    class Meta:
        db_table = "media_thumbnails"
        constraints = [models.UniqueConstraint(fields=("media", "width", "height", "method", "media_type"),
                                               name="media_thumbnail_unique")]

    def __str__(self) -> str:
        return f"{self.width}x{self.height} {self.method} {self.media_type}"


class UrlPreview(models.Model):
    """A URL preview (`preview_url`), kept until `expires_ts`. One row per fetch; a URL may have several
    (the `ts` parameter asks for the one of a point in time)."""

    url_hash = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the URL (URLs are long).")
    url = models.TextField()
    og = models.JSONField(default=dict, help_text="The OpenGraph object returned to clients.")
    # The local media the preview's image was stored as, if any. It outlives the preview (a message
    # may use it); media retention applies to it as to any upload.
    media_id = models.CharField(max_length=255, null=True, blank=True)
    download_ts = models.BigIntegerField()
    expires_ts = models.BigIntegerField(db_index=True)

    class Meta:
        db_table = "media_url_cache"

    def __str__(self) -> str:
        return self.url
