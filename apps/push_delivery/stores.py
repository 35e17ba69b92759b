"""Every query of push delivery: pushers with work, their lease, their position."""
from __future__ import annotations

import time

from django.db.models import Max

from apps.core import leases
from apps.push.models import EventPushAction, Pusher

from .models import EmailRoomThrottle, PusherDeliveryState


def now_ms() -> int:
    return int(time.time() * 1000)


def pusher(pusher_id: int) -> Pusher | None:
    return Pusher.objects.filter(pk=pusher_id).first()


def take_lease(pusher_id: int, owner: str, lease_ms: int) -> bool:
    """Become (or stay) the one sender for the pusher until now + lease_ms (apps.core.leases)."""
    PusherDeliveryState.objects.get_or_create(pusher_id=pusher_id)
    return leases.take(PusherDeliveryState, {"pusher_id": pusher_id}, owner, lease_ms)


def release_lease(pusher_id: int, owner: str) -> None:
    leases.release(PusherDeliveryState, {"pusher_id": pusher_id}, owner)


def state(pusher_id: int) -> PusherDeliveryState | None:
    return PusherDeliveryState.objects.filter(pusher_id=pusher_id).first()


def update_state(pusher_id: int, owner: str, **fields) -> bool:
    return leases.update_if_held(PusherDeliveryState, {"pusher_id": pusher_id}, owner, **fields)


def advance(pusher_id: int, owner: str, position: int, *, success_ts: int) -> bool:
    """Record that everything up to `position` was pushed, only while `owner` still holds the lease."""
    if not leases.is_held(PusherDeliveryState, {"pusher_id": pusher_id}, owner):
        return False
    Pusher.objects.filter(pk=pusher_id, last_stream_ordering__lt=position).update(
        last_stream_ordering=position, last_success_ts=success_ts, failing_since_ts=None)
    return True


def mark_failing(pusher_id: int, since_ts: int) -> None:
    Pusher.objects.filter(pk=pusher_id, failing_since_ts__isnull=True).update(failing_since_ts=since_ts)


def delete_pushers_with_key(app_id: str, pushkey: str) -> int:
    """A push gateway rejected the key: every pusher with it goes (spec: push gateway API, `rejected`)."""
    ids = list(Pusher.objects.filter(app_id=app_id, pushkey=pushkey).values_list("pk", flat=True))
    PusherDeliveryState.objects.filter(pusher_id__in=ids).delete()
    return Pusher.objects.filter(pk__in=ids).delete()[0]


def delivered_kinds() -> list[str]:
    """Email pushers are delivered only when the server sends notification emails (`email.enable_notifs`)."""
    from django.conf import settings

    return ["http", "email"] if settings.HS.email.enable_notifs else ["http"]


def pushers_of_users(user_ids: list[str]) -> list[int]:
    return list(Pusher.objects.filter(user_id__in=user_ids, kind__in=delivered_kinds())
                .values_list("pk", flat=True))


def pushers_with_work(up_to: int) -> list[int]:
    """Pushers whose user has notifying actions after the pusher's position (the sweep's query)."""
    latest = {u: m for u, m in EventPushAction.objects.filter(notify=True, stream_ordering__lte=up_to)
              .values("user_id").annotate(m=Max("stream_ordering")).values_list("user_id", "m")}
    out = []
    for pk, user_id, position in Pusher.objects.filter(kind__in=delivered_kinds(), user_id__in=list(latest)).values_list(
            "pk", "user_id", "last_stream_ordering"):
        if latest[user_id] > position:
            out.append(pk)
    return out


# --- email pushers (apps.push_delivery.email) ------------------------------------------------------------

def email_throttles(pusher_id: int) -> dict[str, EmailRoomThrottle]:
    return {t.room_id: t for t in EmailRoomThrottle.objects.filter(pusher_id=pusher_id)}


def record_emailed(pusher_id: int, rooms: dict[str, tuple[int, int]], now_ms: int) -> None:
    """`rooms`: room_id -> (newest notification emailed, throttle before the next email)."""
    EmailRoomThrottle.objects.bulk_create(
        [EmailRoomThrottle(pusher_id=pusher_id, room_id=r, last_sent_ms=now_ms, last_sent_position=pos,
                           throttle_ms=throttle) for r, (pos, throttle) in rooms.items()],
        update_conflicts=True, unique_fields=["pusher_id", "room_id"],
        update_fields=["last_sent_ms", "last_sent_position", "throttle_ms"])


def delete_pusher(user_id: str, app_id: str, pushkey: str) -> int:
    """Remove one pusher and what its delivery kept (an email's unsubscribe link)."""
    ids = list(Pusher.objects.filter(user_id=user_id, app_id=app_id, pushkey=pushkey).values_list("pk", flat=True))
    PusherDeliveryState.objects.filter(pusher_id__in=ids).delete()
    EmailRoomThrottle.objects.filter(pusher_id__in=ids).delete()
    return Pusher.objects.filter(pk__in=ids).delete()[0]
