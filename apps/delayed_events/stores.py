"""Database access of delayed events. Every change of a row's status is one conditional UPDATE on the status
it is expected to have, so that a management request, the sweep on several workers and the state hook
racing for the same row agree on one outcome: whoever updates the row wins, the others see 0 rows."""
from __future__ import annotations

import json
import secrets
import string

from canonicaljson import encode_canonical_json
from django.db import connection, transaction

from .models import DelayedEvent

_ID_ALPHABET = string.ascii_letters


def new_delay_id() -> str:
    # Synapse's shape (`syd_` + 20 letters): unguessable, as the ID is what names the event to manage.
    return "syd_" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def content_of(row: DelayedEvent) -> dict:
    return json.loads(row.content)


def by_txn(user_id: str, device_id: str, room_id: str, txn_id: str) -> DelayedEvent | None:
    return DelayedEvent.objects.filter(user_id=user_id, device_id=device_id, room_id=room_id,
                                       txn_id=txn_id).first()


def add(*, user_id: str, device_id: str | None, txn_id: str | None, room_id: str, event_type: str,
        state_key: str | None, content: dict, origin_server_ts: int | None, delay_ms: int,
        now_ms: int) -> DelayedEvent:
    """Insert a scheduled row. Raises IntegrityError when a concurrent request with the same transaction ID
    inserted first (the caller returns that one)."""
    with transaction.atomic():
        return DelayedEvent.objects.create(
            delay_id=new_delay_id(), user_id=user_id, device_id=device_id,
            txn_id=txn_id if device_id is not None else None, room_id=room_id, event_type=event_type,
            state_key=state_key, content=encode_canonical_json(content).decode(),
            origin_server_ts=origin_server_ts, delay_ms=delay_ms, running_since_ms=now_ms,
            send_ts=now_ms + delay_ms, created_ts=now_ms)


def pending_of(user_id: str) -> list[DelayedEvent]:
    return list(DelayedEvent.objects.filter(user_id=user_id, status=DelayedEvent.SCHEDULED)
                .order_by("send_ts", "id"))


def _scheduled(user_id: str, delay_id: str):
    return DelayedEvent.objects.filter(user_id=user_id, delay_id=delay_id, status=DelayedEvent.SCHEDULED)


def cancel(user_id: str, delay_id: str, now_ms: int, detail: str) -> bool:
    return _scheduled(user_id, delay_id).update(status=DelayedEvent.CANCELLED, finalised_ts=now_ms,
                                                detail=detail) == 1


def cancel_all_of(user_id: str, now_ms: int, detail: str) -> int:
    return DelayedEvent.objects.filter(user_id=user_id, status=DelayedEvent.SCHEDULED).update(
        status=DelayedEvent.CANCELLED, finalised_ts=now_ms, detail=detail)


def restart(user_id: str, delay_id: str, now_ms: int) -> int | None:
    """Restart the timer: due `delay` after now. Returns the new send_ts, None if there is no such pending row."""
    from django.db.models import F

    updated = _scheduled(user_id, delay_id).update(running_since_ms=now_ms, send_ts=now_ms + F("delay_ms"))
    if updated != 1:
        return None
    return DelayedEvent.objects.filter(user_id=user_id, delay_id=delay_id).values_list("send_ts", flat=True).first()


def claim(user_id: str, delay_id: str, now_ms: int) -> DelayedEvent | None:
    """Take one pending row of the user's for sending now (the `send` action)."""
    if _scheduled(user_id, delay_id).update(status=DelayedEvent.SENDING, claimed_ts=now_ms) != 1:
        return None
    return DelayedEvent.objects.get(delay_id=delay_id)


def claim_next_due(now_ms: int) -> DelayedEvent | None:
    """Take the earliest due row for sending, or None when nothing is due. On PostgreSQL the candidate is
    picked with FOR UPDATE SKIP LOCKED so that concurrent sweeps pick different rows; on every database the
    conditional UPDATE is what makes the claim exclusive."""
    while True:
        with transaction.atomic():
            qs = (DelayedEvent.objects.filter(status=DelayedEvent.SCHEDULED, send_ts__lte=now_ms)
                  .order_by("send_ts", "id"))
            if connection.features.has_select_for_update_skip_locked:
                qs = qs.select_for_update(skip_locked=True)
            row = qs.only("id", "send_ts").first()
            if row is None:
                return None
            taken = (DelayedEvent.objects.filter(pk=row.pk, status=DelayedEvent.SCHEDULED, send_ts=row.send_ts)
                     .update(status=DelayedEvent.SENDING, claimed_ts=now_ms))
        if taken == 1:
            return DelayedEvent.objects.get(pk=row.pk)
        # Cancelled, restarted or taken by another sweep between the read and the update: next one.


def release_stale_claims(claimed_before_ms: int) -> int:
    """Rows whose sender died mid-send (claimed long ago, never finished) become due again."""
    from django.db.models import F

    return (DelayedEvent.objects.filter(status=DelayedEvent.SENDING, claimed_ts__lt=claimed_before_ms)
            .update(status=DelayedEvent.SCHEDULED, claimed_ts=None, attempts=F("attempts") + 1))


def _claimed(row: DelayedEvent):
    # The claim is the lease: only the sender that holds it (same claimed_ts) may finish the row.
    return DelayedEvent.objects.filter(pk=row.pk, status=DelayedEvent.SENDING, claimed_ts=row.claimed_ts)


def finish(row: DelayedEvent, status: str, now_ms: int, *, event_id: str | None = None, detail: str = "") -> bool:
    return _claimed(row).update(status=status, finalised_ts=now_ms, event_id=event_id, detail=detail[:2000]) == 1


def retry_later(row: DelayedEvent, send_ts: int, detail: str) -> bool:
    from django.db.models import F

    return _claimed(row).update(status=DelayedEvent.SCHEDULED, claimed_ts=None, send_ts=send_ts,
                                attempts=F("attempts") + 1, detail=detail[:2000]) == 1


def next_send_ts() -> int | None:
    return (DelayedEvent.objects.filter(status=DelayedEvent.SCHEDULED).order_by("send_ts")
            .values_list("send_ts", flat=True).first())


def cancel_superseded_state(room_id: str, event_type: str, state_key: str, *, keep_user: str | None,
                            event_id: str, now_ms: int, detail: str) -> int:
    """Cancel the pending delayed state events for this room/type/state_key, except `keep_user`'s, if
    `event_id` is the current state there (an event that lost state resolution supersedes nothing).
    One UPDATE, with the current-state check as a subquery."""
    from django.db.models import Exists

    from apps.rooms.models import CurrentState

    is_current = CurrentState.objects.filter(room_id=room_id, type=event_type, state_key=state_key,
                                             event_id=event_id)
    qs = DelayedEvent.objects.filter(Exists(is_current), room_id=room_id, event_type=event_type,
                                     state_key=state_key, status=DelayedEvent.SCHEDULED)
    if keep_user is not None:
        qs = qs.exclude(user_id=keep_user)
    return qs.update(status=DelayedEvent.CANCELLED, finalised_ts=now_ms, detail=detail)


def purge_finalised(before_ms: int) -> int:
    deleted, _ = DelayedEvent.objects.filter(status__in=DelayedEvent.FINAL, finalised_ts__lt=before_ms).delete()
    return deleted

