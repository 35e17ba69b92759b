"""The event persister: writes one checked event of a room, in one transaction, and tells the rest
of the process after the commit.

`persist_event(event, context)` runs on the room's event-persister instance (DESIGN.md 4); callers
reach it through `send_to_persister(room_id, event, context)`, which today calls it directly and
will forward over internal HTTP when the room's writer is another instance. In the transaction:

  1. lock the room (the create event creates it, and its persister assignment);
  2. state groups: the state before the event (when the pipeline had to compute a new one) and the
     state after it (the before-group plus the event, for an accepted state event);
  3. the `events` stream position, allocated as late as possible (`allocate_event_position`, i.e.
     `apps.streams.replication.allocate_position("events")`);
  4. the event row, its prev/auth edges, its state groups;
  5. for an event in the timeline (not an outlier, not rejected, not soft-failed): the forward
     extremities (prev events out, this one in), the current state and the memberships;
  6. the sender's transaction id, for idempotent sends.

After the commit the position is published on the `events` stream (`on_commit_publish`, rows as in
`stream_row`): this process's notifier and every other process's, over Redis, wake the `/sync` waiters
of the room. Then each hook registered with `on_event_persisted` is called with the event and its
position (the federation sender subscribes there). Hooks registered with `on_event_persisting` run
inside the transaction instead, for derived rows that must commit with the event.
"""
from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from canonicaljson import encode_canonical_json
from django.conf import settings
from django.db import transaction

from apps.core.errors import Codes, MatrixError
from apps.streams.replication import allocate_position, on_commit_publish

from . import state_store
from .events import Event, StateKey
from .models import (
    CurrentState, EventAuth, EventEdge, EventRow, EventToStateGroup, ForwardExtremity, Room, RoomMembership,
    RoomPersister, TxnId,
)

logger = logging.getLogger(__name__)

StateMap = dict[StateKey, str]


@dataclass
class EventContext:
    """What the pipeline learnt about an event's place in the room, handed to the persister.

    `state_before` is the full state before the event (empty for the create event). When it is
    already a stored group, `state_group_before` names it; otherwise the persister stores it, as a
    delta against `base_group` when given."""

    state_before: StateMap = field(default_factory=dict)
    state_group_before: int | None = None
    base_group: int | None = None
    # True for an event this server just built at the room's forward extremities.
    local: bool = False


@dataclass(frozen=True)
class PersistedEvent:
    event: Event
    stream_ordering: int | None


# --- hooks -----------------------------------------------------------------------------------------

_persisted_hooks: list[Callable[[PersistedEvent], None]] = []


def on_event_persisted(hook: Callable[[PersistedEvent], None]) -> Callable[[PersistedEvent], None]:
    """Register `hook(persisted)` to run after the commit of every persisted event (decorator-friendly)."""
    if hook not in _persisted_hooks:
        _persisted_hooks.append(hook)
    return hook


def remove_persisted_hook(hook: Callable[[PersistedEvent], None]) -> None:
    if hook in _persisted_hooks:
        _persisted_hooks.remove(hook)


_persisting_hooks: list[Callable[[PersistedEvent], None]] = []


def on_event_persisting(hook: Callable[[PersistedEvent], None]) -> Callable[[PersistedEvent], None]:
    """Register `hook(persisted)` to run INSIDE the persisting transaction, after the event's rows are
    written, for rows derived from the event that must commit with it or not at all (push actions,
    relation indexes). A hook's failure is logged and rolled back to a savepoint: the event is kept."""
    if hook not in _persisting_hooks:
        _persisting_hooks.append(hook)
    return hook


def remove_persisting_hook(hook: Callable[[PersistedEvent], None]) -> None:
    if hook in _persisting_hooks:
        _persisting_hooks.remove(hook)


def _run_persisting_hooks(persisted: PersistedEvent) -> None:
    hooks = list(_persisting_hooks)
    if not hooks:
        return
    # One savepoint for all of them on the hot path; only when one fails are they rerun one savepoint
    # each, so that the others' rows are kept.
    try:
        with transaction.atomic():
            for hook in hooks:
                hook(persisted)
        return
    except Exception:  # noqa: BLE001 - isolated below
        pass
    for hook in hooks:
        try:
            with transaction.atomic():
                hook(persisted)
        except Exception:  # derived rows must not cost the event itself
            logger.exception("event-persisting hook %r failed for %s", hook, persisted.event.event_id)


def _run_hooks(persisted: PersistedEvent) -> None:
    for hook in list(_persisted_hooks):
        try:
            hook(persisted)
        except Exception:  # a subscriber's failure must not fail the write that already committed
            logger.exception("event-persisted hook %r failed for %s", hook, persisted.event.event_id)


# --- which instance writes a room --------------------------------------------------------------------

def default_writer(room_id: str) -> str:
    """The persister a new room is placed on: a stable hash over `stream_writers.events`."""
    writers = settings.HS.workers.writers_of("events") or ("main",)
    digest = hashlib.sha256(room_id.encode()).digest()
    return writers[int.from_bytes(digest[:8], "big") % len(writers)]


def writer_for_room(room_id: str) -> str:
    name = RoomPersister.objects.filter(room_id=room_id).values_list("instance_name", flat=True).first()
    return name or default_writer(room_id)


def send_to_persister(room_id: str, event: Event, context: EventContext) -> int | None:
    """Persist `event` on the room's event persister; returns its stream position.

    With this process the only `events` writer (the default) it is a direct call, with no lookup. Else
    the room's assigned writer persists it: here, or over /_hs/replication (`apps.rooms.forwarding`),
    which returns once this process can read the event."""
    from hsproject import instance

    from .handover import ROOM_MOVED

    me = instance.name()
    writers = instance.writers_of("events")
    if writers == (me,):
        return persist_event(event, context)
    writer = writer_for_room(room_id)
    for _attempt in range(5):
        try:
            if writer == me:
                return persist_event(event, context)
            from .forwarding import persist_remotely

            return persist_remotely(writer, event, context)
        except MatrixError as e:
            # The room was handed over meanwhile: the refusal names the new persister.
            if e.errcode != ROOM_MOVED or not isinstance(e.extra.get("writer"), str):
                raise
            writer = e.extra["writer"]
    raise MatrixError(Codes.UNKNOWN, f"{room_id} kept moving between persisters; try again", 503)


# --- stream positions ------------------------------------------------------------------------------

def allocate_event_position() -> int:
    """The next `events` stream position, from the replication machinery (`apps.streams`): one
    PostgreSQL sequence shared by every event persister (a counter row on SQLite). Call it inside the
    persisting transaction, as late as possible: a position allocated early holds readers back until
    it commits. After the commit the position is published (see `_publish`); after a rollback it is
    released."""
    return allocate_position("events")


def stream_row(event: Event) -> dict:
    """What the `events` stream carries for one event (`apps.rooms.streams` reads the same back from
    the table on catch-up): enough for the notifier to wake the room's users and a member event's
    target (an invite must wake the invitee)."""
    meta = event.internal
    return {"room_id": event.room_id, "event_id": event.event_id, "type": event.type,
            "state_key": event.state_key, "sender": event.sender, "membership": event.membership,
            "in_timeline": not meta.outlier and not event.rejected and not meta.soft_failed}


# --- persisting ------------------------------------------------------------------------------------

def persist_event(event: Event, context: EventContext) -> int | None:
    """Write `event` (already checked by the pipeline) and return its stream position (None for an
    outlier). Persisting an event that is already stored returns its existing position."""
    with transaction.atomic():
        existing = EventRow.objects.filter(event_id=event.event_id).values_list("stream_ordering").first()
        if existing is not None:
            return existing[0]
        room = _lock_room(event)
        meta = event.internal
        in_timeline = not meta.outlier and not event.rejected and not meta.soft_failed

        group_before = group_after = None
        if not meta.outlier:
            group_before, group_after = _store_state_groups(event, context)

        # An out-of-band membership (a remote invite to a room we are not in) is an outlier with a
        # position: the invitee's /sync reads it from the stream.
        oob = meta.outlier and meta.out_of_band_membership
        position = None if meta.outlier and not oob else allocate_event_position()
        meta.stream_ordering = position
        EventRow.objects.create(
            event_id=event.event_id, room_id=room.room_id, room_version=event.room_version.identifier,
            type=event.type, state_key=event.state_key, sender=event.sender, depth=event.depth,
            stream_ordering=position, origin_server_ts=event.origin_server_ts, received_ts=_now_ms(),
            json=encode_canonical_json(_stored_pdu(event)).decode(), outlier=meta.outlier,
            rejected_reason=meta.rejected_reason, soft_failed=meta.soft_failed, txn_id=meta.txn_id,
            device_id=meta.device_id, instance_name=_instance_name(),
        )
        prev_ids = list(dict.fromkeys(event.prev_event_ids))
        if prev_ids:
            EventEdge.objects.bulk_create([EventEdge(event_id=event.event_id, prev_event_id=p) for p in prev_ids])
        auth_ids = list(dict.fromkeys(event.auth_event_ids))
        if auth_ids:
            EventAuth.objects.bulk_create([EventAuth(event_id=event.event_id, auth_event_id=a) for a in auth_ids])
        if group_after is not None:
            EventToStateGroup.objects.create(event_id=event.event_id, state_group_id=group_after,
                                             state_group_before_id=group_before)

        if in_timeline:
            _update_extremities_and_current_state(room, event, context, prev_ids, group_after, position)

        if meta.txn_id is not None and meta.device_id is not None:
            TxnId.objects.create(user_id=event.sender, device_id=meta.device_id, room_id=room.room_id,
                                 txn_id=meta.txn_id, event_id=event.event_id, inserted_ts=_now_ms())

        if oob and not event.rejected and event.membership is not None:
            RoomMembership.objects.update_or_create(
                room=room, user_id=event.state_key,
                defaults={"membership": event.membership, "event_id": event.event_id, "stream_ordering": position,
                          "forgotten": False})

        persisted = PersistedEvent(event, position)
        _run_persisting_hooks(persisted)
        if position is not None:
            on_commit_publish("events", position, [stream_row(event)])
        transaction.on_commit(lambda: _run_hooks(persisted))
    return position


def _instance_name() -> str:
    from hsproject import instance

    return instance.name()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _stored_pdu(event: Event) -> dict:
    """The PDU as stored; an out-of-band membership keeps the room state the remote server sent with it
    (`unsigned.invite_room_state` / `knock_room_state`), the only view we have of that room."""
    if not event.internal.out_of_band_membership:
        return event.pdu
    kept = {k: event.unsigned[k] for k in ("invite_room_state", "knock_room_state") if k in event.unsigned}
    return {**event.pdu, "unsigned": kept} if kept else event.pdu


def _lock_room(event: Event) -> Room:
    if event.internal.out_of_band_membership:
        # A room we are not in may be unknown yet: it gets a row so that the membership can name it.
        Room.objects.get_or_create(room_id=event.room_id, defaults={"room_version": event.room_version.identifier})
    if event.type == "m.room.create" and event.state_key == "":
        rv = event.room_version
        creator = event.sender if rv.implicit_room_creator else event.content.get("creator", event.sender)
        room, created = Room.objects.get_or_create(
            room_id=event.room_id, defaults={"room_version": rv.identifier, "creator": creator})
        if created:
            RoomPersister.objects.create(room=room, instance_name=default_writer(room.room_id))
        return room
    # Serialises the persisting of one room's events (the extremities and current state are per room),
    # and fences hand-overs (apps.rooms.handover): the persister row is locked with the room, and only
    # the instance it names may write.
    assigned = (RoomPersister.objects.select_for_update().select_related("room")
                .filter(room_id=event.room_id).first())
    if assigned is None:
        return Room.objects.select_for_update().get(room_id=event.room_id)
    me = _instance_name()
    if assigned.instance_name != me:
        from .handover import RoomMoved

        raise RoomMoved(event.room_id, assigned.instance_name)
    return assigned.room


def _store_state_groups(event: Event, context: EventContext) -> tuple[int | None, int]:
    room_id = event.room_id
    before = context.state_group_before
    if before is None and context.state_before:
        before = state_store.store_state_group(room_id, context.state_before, prev_group=context.base_group,
                                               event_id=event.event_id)
    if event.is_state() and not event.rejected:
        after_state = {**context.state_before, event.state_pair: event.event_id}
        after = state_store.store_state_group(room_id, after_state, prev_group=before, event_id=event.event_id)
    elif before is not None:
        after = before
    else:
        after = before = state_store.store_state_group(room_id, {}, event_id=event.event_id)
    return before, after


def _update_extremities_and_current_state(room: Room, event: Event, context: EventContext, prev_ids: list[str],
                                          group_after: int, position: int) -> None:
    old_extremities = set(ForwardExtremity.objects.filter(room=room).values_list("event_id", flat=True))
    # An event that already has a successor (it arrived late) is not an extremity.
    has_successor = (not context.local
                     and EventEdge.objects.filter(prev_event_id=event.event_id, event__room=room).exists())
    removed = old_extremities & set(prev_ids)
    if removed:
        ForwardExtremity.objects.filter(room=room, event_id__in=removed).delete()
    new_extremities = old_extremities - removed
    if not has_successor:
        ForwardExtremity.objects.create(room=room, event_id=event.event_id)
        new_extremities.add(event.event_id)

    if new_extremities == {event.event_id} and old_extremities == set(prev_ids):
        # The common, linear case: the state before the event was the current state, so only the
        # event's own key changes.
        if event.is_state():
            _apply_current_state_delta(room, {event.state_pair: event}, position)
        return
    # Forks and late events: the current state is the resolution of the extremities' states.
    _set_current_state(room, event.room_version, _resolved_state_of(room, new_extremities), position)


def _apply_current_state_delta(room: Room, changed: dict[StateKey, Event | None], position: int | None,
                               positions: dict[str, int] | None = None, fallback: int | None = None) -> None:
    for (etype, skey), ev in changed.items():
        if ev is None:
            CurrentState.objects.filter(room=room, type=etype, state_key=skey).delete()
            if etype == "m.room.member":
                RoomMembership.objects.filter(room=room, user_id=skey).delete()
            continue
        CurrentState.objects.update_or_create(
            room=room, type=etype, state_key=skey,
            defaults={"event_id": ev.event_id, "membership": ev.membership if etype == "m.room.member" else None})
        if etype == "m.room.member":
            pos = position if position is not None else (positions or {}).get(ev.event_id)
            if pos is None:
                # A member event without a position (an outlier that federation supplied as state):
                # the membership changed with the event being persisted.
                pos = fallback or 0
            RoomMembership.objects.update_or_create(
                room=room, user_id=skey,
                # A new membership event un-forgets the room (POST /forget applies to one membership).
                defaults={"membership": ev.membership or "leave", "event_id": ev.event_id, "stream_ordering": pos,
                          "forgotten": False})


def _resolved_state_of(room: Room, extremities: set[str]) -> StateMap:
    from . import pipeline

    groups = state_store.groups_for_events(extremities)
    states = [state_store.state_at(g[0]) for g in groups.values()]
    return pipeline.resolve_states(room.room_id, _room_version(room), states)


def _room_version(room: Room):
    from .room_versions import get_room_version

    return get_room_version(room.room_version)


def _set_current_state(room: Room, rv, new_state: StateMap, position: int | None = None) -> None:
    from . import stores

    current = {(t, sk): eid for t, sk, eid in
               CurrentState.objects.filter(room=room).values_list("type", "state_key", "event_id")}
    changed_keys = {k for k, v in new_state.items() if current.get(k) != v} | (current.keys() - new_state.keys())
    if not changed_keys:
        return
    events = stores.get_events([new_state[k] for k in changed_keys if k in new_state])
    positions = dict(EventRow.objects.filter(event_id__in=list(events)).values_list("event_id", "stream_ordering"))
    delta = {k: events.get(new_state[k]) if k in new_state else None for k in changed_keys}
    _apply_current_state_delta(room, delta, None, positions, fallback=position)
