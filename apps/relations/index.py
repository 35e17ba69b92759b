"""Keeping the relations index (`models.EventRelation`, `models.ThreadRoot`) in step with the room.

In the persisting transaction of every timeline event (`apps.rooms.persister.on_event_persisting`):

* an event with a cleartext `content.m.relates_to` holding a string `rel_type` and an `event_id`
  gets an `EventRelation` row (spec: "Forming relationships between events"; an encrypted payload's
  `m.relates_to` is never seen here, as the spec requires). Rejected, soft-failed and outlier events
  are not indexed. Relationships that break their type's rules are ignored: an `m.thread` off an event
  that itself relates to another (threading.md, "Validation of m.thread relationships"), an
  `m.replace` sent as a state event (event_replacements.md, "Validity of replacement events");
* an `m.thread` child also counts in its root's `ThreadRoot` row (created on the first child);
* an `m.room.redaction` of an indexed child deletes its row and recounts its thread: "when a child
  event is redacted then the relationship is broken" (client-server API, "Aggregations of child
  events"). The redaction must be applicable: from the child's sender's server, or by a user with the
  room's `redact` power level at the redaction (rooms v3+, "Handling redactions").

All writes of one room run under the persister's room lock, so counts never race.
"""
from __future__ import annotations

from typing import Any

from apps.core.ids import is_local_id
from apps.rooms import state_store, stores
from apps.rooms.events import Event
from apps.rooms.models import EventRow
from apps.rooms.persister import PersistedEvent, on_event_persisting
from apps.rooms.power_levels import get_named_level, get_user_power_level

from .models import EventRelation, ThreadRoot

THREAD = "m.thread"
REPLACE = "m.replace"
REFERENCE = "m.reference"


def relation_of(content: Any) -> tuple[str, str] | None:
    """(parent event id, rel_type) of an event's content, or None when it forms no relationship."""
    rel = content.get("m.relates_to") if isinstance(content, dict) else None
    if not isinstance(rel, dict):
        return None
    rel_type, parent = rel.get("rel_type"), rel.get("event_id")
    if not isinstance(rel_type, str) or not rel_type or not isinstance(parent, str) or not parent.startswith("$"):
        return None
    return parent, rel_type


@on_event_persisting
def _on_persisting(persisted: PersistedEvent) -> None:
    event = persisted.event
    meta = event.internal
    if persisted.stream_ordering is None or event.rejected or meta.soft_failed or meta.outlier:
        return
    if event.type == "m.room.redaction":
        _on_redaction(event)
        return
    index_event(event, persisted.stream_ordering)


def index_event(event: Event, position: int) -> None:
    """Index one timeline event (not a redaction) persisted at `position`."""
    if not is_local_id(event.sender):
        # A remote root may arrive after its thread's children: now we know who started the thread.
        ThreadRoot.objects.filter(root_event_id=event.event_id, root_sender="").update(root_sender=event.sender)
    rel = relation_of(event.content)
    if rel is None:
        return
    parent_id, rel_type = rel
    if parent_id == event.event_id or (rel_type == REPLACE and event.is_state()):
        return
    if rel_type == THREAD and EventRelation.objects.filter(event_id=parent_id).exists():
        return
    # The persister runs its hooks once per event (an event already stored is not persisted again).
    EventRelation.objects.create(
        event_id=event.event_id, relates_to_id=parent_id, rel_type=rel_type, room_id=event.room_id,
        sender=event.sender, type=event.type, depth=event.depth, stream_ordering=position,
        origin_server_ts=event.origin_server_ts)
    if rel_type == THREAD:
        _count_thread_event(event, parent_id, position)


def _count_thread_event(event: Event, root_id: str, position: int) -> None:
    root = ThreadRoot.objects.filter(root_event_id=root_id).first()
    if root is None:
        parent = EventRow.objects.filter(event_id=root_id).values("room_id", "sender").first()
        if parent is not None and parent["room_id"] != event.room_id:
            return  # a relationship across rooms is no relationship
        ThreadRoot.objects.create(root_event_id=root_id, room_id=event.room_id,
                                  root_sender=parent["sender"] if parent else "", count=1,
                                  latest_event_id=event.event_id, latest_depth=event.depth,
                                  latest_stream_ordering=position)
        return
    if root.room_id != event.room_id:
        return
    root.count += 1
    # Topologically latest: a late event from another server (lower depth, higher position) is not it.
    if (event.depth, position) > (root.latest_depth, root.latest_stream_ordering):
        root.latest_event_id, root.latest_depth, root.latest_stream_ordering = event.event_id, event.depth, position
    root.save(update_fields=["count", "latest_event_id", "latest_depth", "latest_stream_ordering"])


def _domain(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def _may_redact(redaction: Event, target_sender: str) -> bool:
    if _domain(redaction.sender) == _domain(target_sender):
        return True
    state = state_store.state_before_event(redaction.event_id) or {}
    keys = [k for k in (("m.room.create", ""), ("m.room.power_levels", "")) if k in state]
    found = stores.get_events(state[k] for k in keys)
    auth = {k: found[state[k]] for k in keys if state[k] in found}
    rv = redaction.room_version
    return get_user_power_level(redaction.sender, auth, rv) >= get_named_level(auth, "redact", 50, rv)


def _on_redaction(redaction: Event) -> None:
    target = redaction.redacts
    if not target:
        return
    row = EventRelation.objects.filter(event_id=target, room_id=redaction.room_id).first()
    if row is None or not _may_redact(redaction, row.sender):
        return
    row.delete()
    if row.rel_type == THREAD:
        recount_thread(row.relates_to_id)


def recount_thread(root_id: str) -> None:
    """Recompute a thread's count and latest event from its remaining children."""
    children = EventRelation.objects.filter(relates_to_id=root_id, rel_type=THREAD)
    latest = children.order_by("-depth", "-stream_ordering").values_list("event_id", "depth", "stream_ordering").first()
    if latest is None:
        ThreadRoot.objects.filter(root_event_id=root_id).delete()
        return
    ThreadRoot.objects.filter(root_event_id=root_id).update(
        count=children.count(), latest_event_id=latest[0], latest_depth=latest[1], latest_stream_ordering=latest[2])


def rebuild(batch: int = 1000) -> int:
    """Recompute the whole index from the stored timeline (`manage.py rebuild_relations_index`: for
    events persisted before this app was installed). Redacted events are left out, as a redaction
    would have removed them. Meant for a quiet server: an event persisted meanwhile may be indexed by
    its own hook and then fail here (or the other way round), in which case run it again. Returns
    the number of events read."""
    from django.db import transaction

    with transaction.atomic():
        EventRelation.objects.all().delete()
        ThreadRoot.objects.all().delete()
        rows = EventRow.objects.filter(outlier=False, soft_failed=False, rejected_reason__isnull=True,
                                       stream_ordering__isnull=False, redacted_by__isnull=True) \
            .exclude(type="m.room.redaction")
        last, seen = None, 0
        while True:
            page = rows.filter(stream_ordering__gt=last) if last is not None else rows
            ids = list(page.order_by("stream_ordering").values_list("event_id", "stream_ordering")[:batch])
            if not ids:
                return seen
            events = stores.get_events(eid for eid, _ in ids)
            for eid, position in ids:
                if eid in events:
                    index_event(events[eid], position)
            seen += len(ids)
            last = ids[-1][1]
