"""Every query of the media area."""
from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q

from .models import Media, Thumbnail

# Writing last_access on every download would make each download a write; once a minute is enough.
LAST_ACCESS_WRITE_INTERVAL_MS = 60_000


def local_media(media_id: str) -> Media | None:
    return Media.objects.filter(origin="", media_id=media_id).first()


def cached_remote_media(origin: str, media_id: str) -> Media | None:
    return Media.objects.filter(origin=origin, media_id=media_id).first()


def add_remote_media(**fields) -> Media:
    """The cached copy of a remote media; the row another request stored meanwhile if there is one."""
    try:
        with transaction.atomic():
            return Media.objects.create(**fields)
    except IntegrityError:
        return Media.objects.get(origin=fields["origin"], media_id=fields["media_id"])


def remote_media_unused_since(before_ms: int) -> list[Media]:
    """Cached remote media not accessed (or, never accessed, not fetched) since `before_ms`."""
    return list(Media.objects.exclude(origin="").filter(quarantined_by__isnull=True, safe_from_quarantine=False)
                .filter(Q(last_access_ts__lt=before_ms) | Q(last_access_ts__isnull=True, created_ts__lt=before_ms)))


def create_media(**fields) -> Media:
    return Media.objects.create(**fields)


def count_pending(user_id: str, now_ms: int) -> int:
    return Media.objects.filter(user_id=user_id, sha256__isnull=True, unused_expires_at__gt=now_ms).count()


def complete_pending(media_id: str, user_id: str, *, sha256: str, length: int, media_type: str,
                     upload_name: str | None) -> bool:
    """Fill a pending upload's content; False if it was completed meanwhile (only one upload wins)."""
    done = Media.objects.filter(origin="", media_id=media_id, user_id=user_id, sha256__isnull=True).update(
        sha256=sha256, media_length=length, media_type=media_type, upload_name=upload_name,
        unused_expires_at=None)
    return done == 1


def touch(media: Media, now_ms: int) -> None:
    if media.last_access_ts is None or now_ms - media.last_access_ts > LAST_ACCESS_WRITE_INTERVAL_MS:
        Media.objects.filter(pk=media.pk).update(last_access_ts=now_ms)
        media.last_access_ts = now_ms


def thumbnails(media: Media) -> list[Thumbnail]:
    return list(Thumbnail.objects.filter(media=media).order_by("width", "height", "method", "media_type"))


def add_thumbnail(media: Media, *, width: int, height: int, method: str, media_type: str, length: int,
                  sha256: str) -> Thumbnail:
    try:
        with transaction.atomic():
            return Thumbnail.objects.create(media=media, width=width, height=height, method=method,
                                            media_type=media_type, length=length, sha256=sha256)
    except IntegrityError:  # made concurrently by another request: same bytes, same blob
        return Thumbnail.objects.get(media=media, width=width, height=height, method=method,
                                     media_type=media_type)


def blob_in_use(sha256: str) -> bool:
    return (Media.objects.filter(sha256=sha256).exists()
            or Thumbnail.objects.filter(sha256=sha256).exists())


def blobs_of(media: Media) -> set[str]:
    hashes = set(Thumbnail.objects.filter(media=media).values_list("sha256", flat=True))
    if media.sha256:
        hashes.add(media.sha256)
    return hashes


def expired_pending(now_ms: int) -> list[Media]:
    return list(Media.objects.filter(sha256__isnull=True, unused_expires_at__lte=now_ms))


def unused_local_media(before_ms: int) -> list[Media]:
    """Uploaded media not accessed (or, never accessed, not created) since `before_ms`; quarantined and
    protected media are kept (as Synapse's retention)."""
    return list(Media.objects.filter(origin="", sha256__isnull=False, quarantined_by__isnull=True,
                                     safe_from_quarantine=False)
                .filter(Q(last_access_ts__lt=before_ms) | Q(last_access_ts__isnull=True, created_ts__lt=before_ms)))


def set_quarantine(media_ids: list[str], by: str | None) -> int:
    qs = Media.objects.filter(origin="", media_id__in=media_ids)
    if by is not None:
        qs = qs.filter(safe_from_quarantine=False)
    return qs.update(quarantined_by=by)
