"""Purging a room's history (Synapse's "purge history"): the admin API's
`POST /_synapse/admin/v1/purge_history/{roomId}` (as a job, apps.jobs) and the periodic purges of a
room's `m.room.retention` policy both call

    purge_history(room_id, before_stream_ordering, delete_local_events=False, progress=None) -> PurgeResult

which removes the room's history strictly before `before_stream_ordering` (a position of the `events`
stream) while the room keeps working: members can still send, join, leave and sync, federation can
still authorise its events, and the state of every event that is kept can still be read.

What is purged: the room's timeline events (not outliers: an outlier has no place in the timeline) with
`stream_ordering < before_stream_ordering`, sent by users of other servers, and by this server's users
too when `delete_local_events` (by default they are left alone, in the timeline, as the only copy of what
our users wrote may be here).

What is never deleted, whatever the point:
  * state events. Auth events are always state events, so every auth chain and every state set that
    state resolution may walk stays whole, and the current state (`CurrentState`, `RoomMembership`)
    still names stored events. A purged state event *leaves the timeline* instead: it becomes an
    outlier (no stream position, no state-group mapping), as Synapse marks it, so `/messages` and
    `/sync` no longer show it while auth, `/state` and `/members` still find it;
  * a redaction whose target is kept: a redacted event is served pruned with the redaction in
    `redacted_because`, so the redaction leaves the timeline the same way rather than going (a kept
    target would otherwise be served unredacted again);
  * the room's forward extremities (the `prev_events` of the next event) and its newest timeline
    event, so a purge "up to now" still leaves a room to send into.

Rows derived from a purged event go in the same transaction (leaving the timeline or deleted): its
relation row (and the thread summary it counted in: recounted, or dropped with its root), its search
row (the SQLite FTS5 row goes with it by trigger), its push actions (notification counts), federation
outbox rows and send transaction ids; a deleted event's prev/auth edges and state-group mapping.
Receipts are kept: a receipt is a user's read position and stores its stream ordering, and dropping it
would turn the remaining history unread. Reports keep the IDs they name (moderation evidence).
Finally the room's state groups that no event and no other group references any more are deleted.

Batches: `BATCH_SIZE` events per transaction, oldest first, each under the lock the persister takes on
the room (so a batch never interleaves with the persisting of an event of the room). A purge stopped
anywhere (a killed worker) leaves a consistent room, and running it again continues where it
stopped: deleted events are gone and purged state events are outliers, so what is left to purge is
exactly what the query finds. `progress(done, total)` is called after each batch with the numbers of
this run (events examined so far, events to examine); it may raise to stop the purge (a job that lost
its lease), the batches already done staying done.

The event caches are per request (no process caches events), and the state-group cache only holds
groups by ID, which a deleted group no longer is referenced by; so no process needs telling.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Callable, Optional

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from apps.core.errors import Codes, MatrixError

from .models import (
    EventAuth, EventEdge, EventRow, EventToStateGroup, ForwardExtremity, Room, RoomPersister, StateGroup,
    StateGroupState, TxnId,
)

BATCH_SIZE = 500

Progress = Callable[[int, int], None]


@dataclass
class PurgeResult:
    deleted: int = 0            # events deleted
    hidden: int = 0             # events kept out of the timeline (state events, needed redactions)
    state_groups_deleted: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def purge_history(room_id: str, before_stream_ordering: int, delete_local_events: bool = False,
                  progress: Optional[Progress] = None) -> PurgeResult:
    """Purge the room's history before `before_stream_ordering` (see the module docstring).

    Raises MatrixError(M_NOT_FOUND) for an unknown room. Idempotent: running it again with the same
    arguments continues an interrupted purge and otherwise does nothing."""
    if not Room.objects.filter(room_id=room_id).exists():
        raise MatrixError(Codes.NOT_FOUND, "Unknown room", 404)
    result = PurgeResult()
    total = _candidates(room_id, before_stream_ordering, delete_local_events, set()).count()
    done = 0
    cursor: int | None = None
    while True:
        with transaction.atomic():
            _lock_room(room_id)
            rows = list(_candidates(room_id, before_stream_ordering, delete_local_events, _protected(room_id),
                                    after=cursor)
                        .order_by("stream_ordering")
                        .values_list("event_id", "type", "state_key", "stream_ordering")[:BATCH_SIZE])
            if not rows:
                break
            deleted, hidden = _purge_batch(room_id, rows)
        result.deleted += deleted
        result.hidden += hidden
        done += len(rows)
        cursor = rows[-1][3]
        if progress is not None:
            progress(done, max(total, done))
    result.state_groups_deleted = _delete_unreferenced_state_groups(room_id)
    return result


# --- choosing --------------------------------------------------------------------------------------------

def _candidates(room_id: str, before: int, delete_local_events: bool, protected: set[str], *,
                after: int | None = None):
    qs = EventRow.objects.filter(room_id=room_id, outlier=False, stream_ordering__isnull=False,
                                 stream_ordering__lt=before)
    if after is not None:
        qs = qs.filter(stream_ordering__gt=after)
    if not delete_local_events:
        # A user ID's server name is everything after its first colon, and a localpart has no colon.
        qs = qs.exclude(sender__endswith=f":{settings.HS.server_name}")
    if protected:
        qs = qs.exclude(event_id__in=protected)
    return qs


def _protected(room_id: str) -> set[str]:
    """The events no purge may take out of the timeline: the forward extremities and the newest
    timeline event (read under the room lock, so no send moves them meanwhile)."""
    keep = set(ForwardExtremity.objects.filter(room_id=room_id).values_list("event_id", flat=True))
    newest = (EventRow.objects.filter(room_id=room_id, outlier=False, soft_failed=False,
                                      rejected_reason__isnull=True, stream_ordering__isnull=False)
              .order_by("-stream_ordering").values_list("event_id", flat=True).first())
    if newest is not None:
        keep.add(newest)
    return keep


def _lock_room(room_id: str) -> None:
    # The persister's lock (persister._lock_room): the room's persister row, else the room row.
    if not list(RoomPersister.objects.select_for_update().filter(room_id=room_id).values_list("pk", flat=True)):
        list(Room.objects.select_for_update().filter(room_id=room_id).values_list("pk", flat=True))


# --- one batch -------------------------------------------------------------------------------------------

def _purge_batch(room_id: str, rows: list[tuple[str, str, str | None, int]]) -> tuple[int, int]:
    """Delete or take out of the timeline the events of `rows`; (deleted, hidden)."""
    ids = [r[0] for r in rows]
    hide = {eid for eid, _, state_key, _ in rows if state_key is not None}
    redactions = [eid for eid, etype, state_key, _ in rows if etype == "m.room.redaction" and state_key is None]
    delete = set(ids) - hide
    if redactions:
        # A redaction stays (out of the timeline) while the event it redacted stays. The targets are read
        # from the redactions (by primary key: `redacted_by` has no index).
        targets = {}
        for eid, raw in EventRow.objects.filter(event_id__in=redactions).values_list("event_id", "json"):
            target = _redacts(raw)
            if target is not None:
                targets[target] = eid
        needed = set(EventRow.objects.filter(event_id__in=list(targets), redacted_by__in=redactions)
                     .exclude(event_id__in=delete).values_list("redacted_by", flat=True))
        hide |= needed
        delete -= needed

    _drop_derived_rows(room_id, ids, delete)
    if hide:
        EventToStateGroup.objects.filter(event_id__in=hide).delete()
        EventRow.objects.filter(event_id__in=hide).update(outlier=True, stream_ordering=None)
    if delete:
        gone = list(delete)
        EventEdge.objects.filter(event_id__in=gone).delete()
        EventAuth.objects.filter(event_id__in=gone).delete()
        EventToStateGroup.objects.filter(event_id__in=gone).delete()
        TxnId.objects.filter(room_id=room_id, event_id__in=gone).delete()
        EventRow.objects.filter(event_id__in=gone).delete()
    return len(delete), len(hide)


def _redacts(raw_json: str) -> str | None:
    """The event a stored redaction names: `redacts` at the top level before room v11, in content since."""
    try:
        pdu = json.loads(raw_json)
    except ValueError:
        return None
    content = pdu.get("content")
    target = pdu.get("redacts") or (content.get("redacts") if isinstance(content, dict) else None)
    return target if isinstance(target, str) else None


def _drop_derived_rows(room_id: str, ids: list[str], deleted: set[str]) -> None:
    """Rows other apps derived from timeline events, for events leaving the timeline (`ids`); thread
    summaries of deleted roots. Imported here: the rooms app knows no dependent app otherwise."""
    from apps.federation_sender.models import OutboundPdu
    from apps.push.models import EventPushAction
    from apps.relations.index import THREAD, recount_thread
    from apps.relations.models import EventRelation, ThreadRoot
    from apps.search.models import SearchEntry

    SearchEntry.objects.filter(event_id__in=ids).delete()
    EventPushAction.objects.filter(room_id=room_id, event_id__in=ids).delete()
    OutboundPdu.objects.filter(event_id__in=ids).delete()
    threads = set(EventRelation.objects.filter(event_id__in=ids, rel_type=THREAD)
                  .values_list("relates_to_id", flat=True))
    EventRelation.objects.filter(event_id__in=ids).delete()
    if deleted:
        ThreadRoot.objects.filter(room_id=room_id, root_event_id__in=list(deleted)).delete()
    for root_id in threads - deleted:
        recount_thread(root_id)


# --- state groups ----------------------------------------------------------------------------------------

def _delete_unreferenced_state_groups(room_id: str) -> int:
    """Delete the room's state groups that no event maps to and no group is a delta of. Deleting a group
    may free the group it was a delta of, so this repeats until none is left (at most the length of a
    delta chain, `state_store.MAX_DELTA_CHAIN`, rounds per chain)."""
    count = 0
    referenced = (Exists(EventToStateGroup.objects.filter(state_group_id=OuterRef("pk")))
                  | Exists(EventToStateGroup.objects.filter(state_group_before_id=OuterRef("pk")))
                  | Exists(StateGroup.objects.filter(prev_group_id=OuterRef("pk"))))
    while True:
        with transaction.atomic():
            _lock_room(room_id)
            orphans = list(StateGroup.objects.filter(room_id=room_id).exclude(referenced)
                           .values_list("id", flat=True)[:BATCH_SIZE])
            if not orphans:
                return count
            StateGroupState.objects.filter(state_group_id__in=orphans).delete()
            StateGroup.objects.filter(id__in=orphans).delete()
        count += len(orphans)


# --- choosing the point ----------------------------------------------------------------------------------

def point_at_event(room_id: str, event_id: str) -> int:
    """The purge point that keeps `event_id` and purges what came before it."""
    row = EventRow.objects.filter(event_id=event_id).values("room_id", "stream_ordering", "outlier").first()
    if row is None:
        raise MatrixError(Codes.NOT_FOUND, "Event not found", 404)
    if row["room_id"] != room_id:
        raise MatrixError(Codes.INVALID_PARAM, "Event is for wrong room.", 400)
    if row["outlier"] or row["stream_ordering"] is None:
        raise MatrixError(Codes.INVALID_PARAM, "The event is not in the room's timeline", 400)
    return row["stream_ordering"]


def point_at_ts(room_id: str, ts: int) -> int:
    """The purge point for "everything before `ts`" (ms since the epoch), as Synapse picks it: the last
    timeline event this server received before `ts` is kept, the events before it purged. The time
    of receipt, not the sender's `origin_server_ts`, which any sender may set."""
    row = (EventRow.objects.filter(room_id=room_id, outlier=False, stream_ordering__isnull=False,
                                   received_ts__lt=ts)
           .order_by("-stream_ordering").values_list("stream_ordering", flat=True).first())
    if row is None:
        raise MatrixError(Codes.NOT_FOUND, "There is no event to be purged", 404)
    return row
