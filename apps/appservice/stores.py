"""Every query of the application-service area: delivery state, the events to deliver and what makes
a room interesting to a service (its joined members and local aliases)."""
from __future__ import annotations

import time
from typing import Iterable

from apps.core import leases
from apps.rooms.models import EventRow, RoomAlias, RoomMembership

from .models import AppServiceRoomListing, AppServiceState


def now_ms() -> int:
    return int(time.time() * 1000)


# --- delivery state -------------------------------------------------------------------------------------

def ensure_state(appservice_id: str, start_after: int) -> None:
    """The service's state row; a new one starts after `start_after` (a service added to the
    configuration receives events from then on, not the server's history)."""
    if AppServiceState.objects.filter(appservice_id=appservice_id).exists():
        return
    from .ephemeral import available_streams

    AppServiceState.objects.get_or_create(appservice_id=appservice_id, defaults={
        "stream_position": start_after,
        "ephemeral_positions": {s: persisted_up_to(s) for s in available_streams()}})


def get_state(appservice_id: str) -> AppServiceState | None:
    return AppServiceState.objects.filter(appservice_id=appservice_id).first()


def take_lease(appservice_id: str, owner: str, lease_ms: int) -> bool:
    """Become (or stay) the one sender for the service until now + lease_ms; False if another holds it
    (apps.core.leases: a killed worker's lease is free at once)."""
    return leases.take(AppServiceState, {"appservice_id": appservice_id}, owner, lease_ms)


def release_lease(appservice_id: str, owner: str) -> None:
    leases.release(AppServiceState, {"appservice_id": appservice_id}, owner)


def update_state(appservice_id: str, owner: str, **fields) -> bool:
    """Write `fields` only while `owner` holds the lease (a sender whose lease ran out changes nothing)."""
    return leases.update_if_held(AppServiceState, {"appservice_id": appservice_id}, owner, **fields)


# --- events ------------------------------------------------------------------------------------------------

def events_persisted_up_to() -> int:
    return persisted_up_to("events")


def persisted_up_to(stream: str) -> int:
    """The position of `stream` below which everything is committed: the minimum over the configured
    writers of their durable positions (`stream_positions`). Read from the database, so a Celery worker
    that hears no replication traffic still sees it."""
    from apps.streams.stores import writer_positions
    from hsproject import instance

    writers = instance.writers_of(stream) or ("main",)
    positions = writer_positions(stream).get(stream, {})
    return min(positions.get(w, 0) for w in writers)


def timeline_rows_between(after: int, up_to: int, limit: int) -> list[tuple[int, str, str, str, str | None]]:
    """(stream_ordering, event_id, room_id, sender, state_key) of the timeline events in (after, up_to], in
    stream order: no outliers, rejected or soft-failed events."""
    return list(EventRow.objects.filter(
        stream_ordering__gt=after, stream_ordering__lte=up_to, outlier=False, rejected_reason__isnull=True,
        soft_failed=False,
    ).order_by("stream_ordering").values_list("stream_ordering", "event_id", "room_id", "sender", "state_key")[:limit])


def joined_members(room_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for room_id, user_id in RoomMembership.objects.filter(room_id__in=list(room_ids), membership="join") \
            .values_list("room_id", "user_id"):
        out.setdefault(room_id, []).append(user_id)
    return out


def local_aliases(room_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for alias, room_id in RoomAlias.objects.filter(room_id__in=list(room_ids)).values_list("alias", "room_id"):
        out.setdefault(room_id, []).append(alias)
    return out


# --- published room lists ----------------------------------------------------------------------------------

def set_room_listed(appservice_id: str, network_id: str, room_id: str, listed: bool) -> None:
    if listed:
        AppServiceRoomListing.objects.get_or_create(appservice_id=appservice_id, network_id=network_id,
                                                    room_id=room_id)
    else:
        AppServiceRoomListing.objects.filter(appservice_id=appservice_id, network_id=network_id,
                                             room_id=room_id).delete()


def listed_rooms(appservice_id: str | None, network_id: str | None = None) -> list[str]:
    qs = AppServiceRoomListing.objects.all()
    if appservice_id is not None:
        qs = qs.filter(appservice_id=appservice_id)
    if network_id is not None:
        qs = qs.filter(network_id=network_id)
    return list(qs.order_by("room_id").values_list("room_id", flat=True).distinct())
