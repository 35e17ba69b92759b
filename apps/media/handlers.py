"""The media repository's rules: uploads (direct and asynchronous), what may be served to whom,
thumbnail selection and generation, quarantine, deletion and clean-up.

Flow of an upload: rate limit -> stream the body into the content-addressed store (bounded by
`max_upload_size`) -> one `Media` row -> thumbnails at `thumbnail_sizes` for images. A download checks,
in order: a valid server name and media ID, local (remote media arrive with federation), exists, not
quarantined, not frozen for the deprecated unauthenticated endpoints, uploaded (waiting a little for a
pending async upload), then the blob.

Spec: client-server-api/modules/content_repo.md; data/api/client-server/{content-repo,authed-content-repo}.yaml.
"""
from __future__ import annotations

import asyncio
import logging
import re
import secrets
import string
import time
from dataclasses import dataclass
from typing import BinaryIO, Iterable

from asgiref.sync import sync_to_async
from django.conf import settings

from apps.core import ratelimit
from apps.core.errors import Codes, MatrixError
from hsproject.config.sections import SERVER_NAME_RE

from . import stores
from .models import Media, Thumbnail
from .storage import TooLarge, get_storage
from .thumbnails import (ANIMATED_TYPES, ImageTooLarge, ThumbnailError, Thumbnailer, base_type, can_thumbnail,
                         output_type)

logger = logging.getLogger(__name__)

CANNOT_OVERWRITE_MEDIA = "M_CANNOT_OVERWRITE_MEDIA"  # spec: uploadContentToMXC 409
# spec: "The media-id segment MUST consist of only alphanumeric (A-Za-z0-9), _ and - characters."
MEDIA_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,255}")
MEDIA_ID_LENGTH = 24
# Longest wait for a pending async upload on a download request: the spec's default timeout_ms (20 s) and
# the cap it asks servers to impose. The wait polls the row (no thread held meanwhile).
MAX_PENDING_WAIT_MS = 20_000
PENDING_POLL_S = 0.5


def now_ms() -> int:
    return int(time.time() * 1000)


def _cfg():
    return settings.HS.media


def new_media_id() -> str:
    return "".join(secrets.choice(string.ascii_letters) for _ in range(MEDIA_ID_LENGTH))


def not_found() -> MatrixError:
    return MatrixError(Codes.NOT_FOUND, "Not found", 404)


# --- uploads -----------------------------------------------------------------------------------------

def _count_new_mxc(user_id: str) -> None:
    ratelimit.check(f"media_create:{user_id}", _cfg().rc_media_create)


def _store_blob(chunks: Iterable[bytes]):
    limit = settings.HS.max_upload_size
    try:
        return get_storage().save(chunks, max_length=limit)
    except TooLarge:
        raise MatrixError(Codes.TOO_LARGE, f"Upload is larger than {limit} bytes", 413) from None


def check_declared_length(content_length: int | None) -> None:
    """Refuse before reading a body whose declared length is already over the limit."""
    if content_length is not None and content_length > settings.HS.max_upload_size:
        raise MatrixError(Codes.TOO_LARGE, f"Upload is larger than {settings.HS.max_upload_size} bytes", 413)


def upload(user_id: str, chunks: Iterable[bytes], *, content_type: str, upload_name: str | None) -> Media:
    """`POST /_matrix/media/v3/upload`: store the bytes, return the new local media."""
    _count_new_mxc(user_id)
    blob = _store_blob(chunks)
    media = stores.create_media(
        media_id=new_media_id(), user_id=user_id, media_type=content_type, media_length=blob.length,
        sha256=blob.sha256, upload_name=upload_name, created_ts=now_ms(),
        authenticated=_cfg().enable_authenticated_media)
    generate_thumbnails(media)
    return media


def create_pending(user_id: str) -> Media:
    """`POST /_matrix/media/v1/create`: an mxc:// URI whose content comes later by PUT."""
    _count_new_mxc(user_id)
    now = now_ms()
    if stores.count_pending(user_id, now) >= _cfg().max_pending_media_uploads:
        raise MatrixError(Codes.LIMIT_EXCEEDED, "Too many pending media uploads", 429,
                          retry_after_ms=_cfg().unused_expiration_time_ms)
    return stores.create_media(
        media_id=new_media_id(), user_id=user_id, sha256=None, media_length=None, created_ts=now,
        unused_expires_at=now + _cfg().unused_expiration_time_ms,
        authenticated=_cfg().enable_authenticated_media)


def check_pending_upload(user_id: str, server_name: str, media_id: str) -> Media:
    """The checks of `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`, made before the body is read."""
    if server_name != settings.HS.server_name or not MEDIA_ID_RE.fullmatch(media_id):
        raise not_found()
    media = stores.local_media(media_id)
    if media is None:
        raise not_found()
    if media.user_id != user_id:
        raise MatrixError(Codes.FORBIDDEN, "You did not create this media ID", 403)
    if not media.is_pending:
        raise MatrixError(CANNOT_OVERWRITE_MEDIA, "Media ID already has content", 409)
    if media.unused_expires_at is not None and media.unused_expires_at <= now_ms():
        raise not_found()
    return media


def upload_pending(media: Media, chunks: Iterable[bytes], *, content_type: str, upload_name: str | None) -> Media:
    blob = _store_blob(chunks)
    if not stores.complete_pending(media.media_id, media.user_id, sha256=blob.sha256, length=blob.length,
                                   media_type=content_type, upload_name=upload_name):
        delete_blob_if_unused(blob.sha256)
        raise MatrixError(CANNOT_OVERWRITE_MEDIA, "Media ID already has content", 409)
    media.refresh_from_db()
    generate_thumbnails(media)
    return media


# --- downloads ---------------------------------------------------------------------------------------

def check_ids(server_name: str, media_id: str) -> None:
    if not SERVER_NAME_RE.fullmatch(server_name):
        raise MatrixError(Codes.INVALID_PARAM, "Invalid server name", 400)
    if not MEDIA_ID_RE.fullmatch(media_id):
        raise not_found()


def media_for_serving(server_name: str, media_id: str, *, authenticated: bool, allow_remote: bool = True) -> Media:
    """The media to serve (maybe still pending: see `await_upload`), or the error the client should see.
    Media of another server are fetched over federation and cached (`remote.py`), unless `allow_remote`
    is false and they are not cached yet.

    `authenticated` is False on the deprecated `/_matrix/media/v3/download|thumbnail` endpoints: media
    uploaded (or fetched) while `enable_authenticated_media` is on are frozen there (404), as the spec asks.
    """
    check_ids(server_name, media_id)
    if server_name != settings.HS.server_name:
        from . import remote

        if not authenticated and _cfg().enable_authenticated_media:
            # The deprecated endpoints serve no media they would first have to fetch (spec v1.11 freeze).
            allow_remote = False
        media = remote.get_or_fetch(server_name, media_id, allow_remote=allow_remote)
    else:
        media = stores.local_media(media_id)
    if media is None or media.quarantined_by:
        raise not_found()
    if not authenticated and _cfg().enable_authenticated_media and media.authenticated:
        raise not_found()
    if media.is_pending and media.unused_expires_at is not None and media.unused_expires_at <= now_ms():
        raise not_found()
    return media


async def await_upload(media: Media, timeout_ms: int) -> Media:
    """Wait (without holding a thread) for a pending async upload, up to `timeout_ms` capped by
    MAX_PENDING_WAIT_MS; then 504 M_NOT_YET_UPLOADED (spec: timeout_ms of the download endpoints)."""
    deadline = time.monotonic() + min(timeout_ms, MAX_PENDING_WAIT_MS) / 1000
    while media.is_pending:
        if media.unused_expires_at is not None and media.unused_expires_at <= now_ms():
            raise not_found()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise MatrixError(Codes.NOT_YET_UPLOADED, "Content has not yet been uploaded", 504)
        await asyncio.sleep(min(PENDING_POLL_S, remaining))
        media = await sync_to_async(stores.local_media)(media.media_id)
        if media is None or media.quarantined_by:
            raise not_found()
    return media


def mark_accessed(media: Media) -> None:
    stores.touch(media, now_ms())


def open_blob(sha256: str) -> BinaryIO:
    try:
        return get_storage().open(sha256)
    except FileNotFoundError:
        logger.error("media blob %s is missing from the store", sha256)
        raise not_found() from None


@dataclass
class Content:
    """Bytes to send: an open file of `length` bytes of `media_type`."""

    file: BinaryIO
    media_type: str
    length: int


def content_of(media: Media) -> Content:
    return Content(open_blob(media.sha256), media.media_type, media.media_length or 0)


# --- thumbnails --------------------------------------------------------------------------------------

def _thumbnailer(media: Media) -> Thumbnailer:
    return Thumbnailer(open_blob(media.sha256), _cfg().max_image_pixels)


def _save_thumbnail(media: Media, data: bytes, width: int, height: int, method: str, media_type: str) -> Thumbnail:
    blob = get_storage().save([data])
    return stores.add_thumbnail(media, width=width, height=height, method=method, media_type=media_type,
                                length=blob.length, sha256=blob.sha256)


def generate_thumbnails(media: Media) -> list[Thumbnail]:
    """The thumbnails of `thumbnail_sizes` for an image (Synapse's `_generate_thumbnails`): scale sizes are
    the image's aspect within the box, crop sizes the box; both clamped to the image, never upscaled."""
    if media.is_pending or not can_thumbnail(media.media_type):
        return []
    try:
        with _thumbnailer(media) as source:
            t_type = output_type(media.media_type)
            wanted: dict[tuple[int, int, str], None] = {}
            for size in _cfg().thumbnail_sizes:
                w, h = source.size_for(size.width, size.height, size.method)
                wanted[(w, h, size.method)] = None
            return [_save_thumbnail(media, source.render(w, h, method, t_type), w, h, method, t_type)
                    for w, h, method in wanted]
    except ThumbnailError as e:
        logger.info("no thumbnails for %s (%s): %s", media.media_id, media.media_type, e)
        return []


def select_thumbnail(candidates: list[Thumbnail], width: int, height: int, method: str,
                     desired_type: str) -> tuple[Thumbnail | None, bool]:
    """The best pre-generated thumbnail (Synapse's `_select_thumbnail`), and whether it is at least the
    requested size in one dimension (False: all are smaller than asked)."""
    big, small = [], []
    for t in candidates:
        if t.method != method:
            continue
        size_quality = abs((width - t.width) * (height - t.height))
        type_quality = desired_type != t.media_type
        if method == "crop":
            aspect_quality = abs(width * t.height - height * t.width)
            min_quality = 0 if width <= t.width and height <= t.height else 1
            key = (aspect_quality, min_quality, size_quality, type_quality, t.length)
        else:
            key = (size_quality, type_quality, t.length)
        (big if t.width >= width or t.height >= height else small).append((key, t.pk, t))
    if big:
        return min(big, key=lambda x: x[:2])[2], True
    if small:
        return min(small, key=lambda x: x[:2])[2], False
    return None, False


def thumbnail(media: Media, width: int, height: int, method: str, animated: bool | None) -> Content:
    """`GET .../thumbnail/{serverName}/{mediaId}`: a pre-generated thumbnail (or, with
    `dynamic_thumbnails`, one of exactly the size asked), never larger than the original."""
    if not can_thumbnail(media.media_type):
        raise MatrixError(Codes.UNKNOWN, "Cannot generate thumbnails for the requested content", 400)
    try:
        if animated and base_type(media.media_type) in ANIMATED_TYPES:
            found = _animated_thumbnail(media, width, height, method)
            if found is not None:
                return found
        t_type = output_type(media.media_type)
        if _cfg().dynamic_thumbnails:
            return _exact_thumbnail(media, width, height, method, t_type)
        candidates = [t for t in stores.thumbnails(media) if t.media_type == t_type]
        if not candidates:
            # Made at upload unless the sizes changed since or generation failed: find out why, or make them.
            _thumbnailer(media).close()
            candidates = [t for t in generate_thumbnails(media) if t.media_type == t_type]
        chosen, big_enough = select_thumbnail(candidates, width, height, method, t_type)
        if chosen is None:
            raise MatrixError(Codes.UNKNOWN, "Cannot generate thumbnails for the requested content", 400)
        if not big_enough and _is_still(media):
            # Spec: never smaller than asked unless the original is; the original is the largest there is.
            return content_of(media)
        return Content(open_blob(chosen.sha256), chosen.media_type, chosen.length)
    except ImageTooLarge:
        raise MatrixError(Codes.TOO_LARGE, "Content is too large to thumbnail", 413) from None
    except ThumbnailError:
        raise MatrixError(Codes.UNKNOWN, "Cannot generate thumbnails for the requested content", 400) from None


def _is_still(media: Media) -> bool:
    with _thumbnailer(media) as source:
        return source.n_frames == 1


def _exact_thumbnail(media: Media, width: int, height: int, method: str, t_type: str) -> Content:
    with _thumbnailer(media) as source:
        w, h = source.size_for(width, height, method)
        existing = [t for t in stores.thumbnails(media)
                    if (t.width, t.height, t.method, t.media_type) == (w, h, method, t_type)]
        thumb = existing[0] if existing else _save_thumbnail(
            media, source.render(w, h, method, t_type), w, h, method, t_type)
    return Content(open_blob(thumb.sha256), thumb.media_type, thumb.length)


def _animated_thumbnail(media: Media, width: int, height: int, method: str) -> Content | None:
    """An animated GIF/WebP gets an animated thumbnail of the requested size (made on demand, cached);
    None when the source is not animated (the caller then serves a still one, as the spec says)."""
    a_type = base_type(media.media_type)
    with _thumbnailer(media) as source:
        if source.n_frames <= 1:
            return None
        w, h = source.size_for(width, height, method)
        if (w, h) == (source.width, source.height):
            return content_of(media)  # no smaller than the original: the original is the thumbnail
        existing = [t for t in stores.thumbnails(media)
                    if (t.width, t.height, t.method, t.media_type) == (w, h, method, a_type)]
        if existing:
            return Content(open_blob(existing[0].sha256), a_type, existing[0].length)
        data = source.render_animated(w, h, method, a_type)
    if data is None:
        return None
    thumb = _save_thumbnail(media, data, w, h, method, a_type)
    return Content(open_blob(thumb.sha256), a_type, thumb.length)


# --- quarantine, deletion, clean-up ------------------------------------------------------------------

def quarantine(media_ids: list[str], by: str) -> int:
    """Hide media from every client (404); `safe_from_quarantine` media are left alone."""
    return stores.set_quarantine(media_ids, by)


def unquarantine(media_ids: list[str]) -> int:
    return stores.set_quarantine(media_ids, None)


def delete_blob_if_unused(sha256: str) -> None:
    if not stores.blob_in_use(sha256):
        get_storage().delete(sha256)


def delete_media(media: Media) -> None:
    """Delete the row, its thumbnails, and every blob no other row shares."""
    hashes = stores.blobs_of(media)
    media.delete()
    for sha in hashes:
        delete_blob_if_unused(sha)


def expire_pending_uploads(now: int | None = None) -> int:
    """Forget `/create` media IDs whose upload never came (`unused_expiration_time`)."""
    expired = stores.expired_pending(now if now is not None else now_ms())
    for media in expired:
        media.delete()
    return len(expired)


def apply_media_retention(now: int | None = None) -> int:
    """Delete local media unused for `media_retention.local_media_lifetime` (none: keep everything)."""
    lifetime = _cfg().local_media_lifetime_ms
    if lifetime is None:
        return 0
    old = stores.unused_local_media((now if now is not None else now_ms()) - lifetime)
    for media in old:
        delete_media(media)
    return len(old)


def expire_remote_media_cache(now: int | None = None) -> int:
    """Drop cached remote media unused for `media_retention.remote_media_lifetime` (fetched again when
    asked for)."""
    lifetime = _cfg().remote_media_lifetime_ms
    if lifetime is None:
        return 0
    old = stores.remote_media_unused_since((now if now is not None else now_ms()) - lifetime)
    for media in old:
        delete_media(media)
    return len(old)
