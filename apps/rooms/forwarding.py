"""Handing a checked event to the persister of its room when that is another instance.

The event creator (any process serving the client API) builds and checks the event, then
`persist_remotely(writer, event, context)` posts it to the writer's replication endpoint
(`/_hs/replication/persist_event/{roomId}`, `apps.streams.replication_http`), which persists it exactly as
a local call would (`persister.persist_event`) and answers with the stream position. The creator then
waits until its own view of the `events` stream has reached that position (read-after-write), so the
client's next request to this process sees the event.

The wire form carries the PDU, the room version, `unsigned`, the internal metadata (outlier, soft-fail,
rejection, transaction id and device) and the context (the state before the event as
`[type, state_key, event_id]` triples, or the state group it is already stored as).
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any
from urllib.parse import quote

from apps.core.errors import Codes, MatrixError

from .events import Event, InternalMetadata
from .persister import EventContext
from .room_versions import KNOWN_ROOM_VERSIONS

PERSIST_PATH = "/persist_event/"
_INTERNAL_FIELDS = {f.name for f in fields(InternalMetadata)} - {"stream_ordering"}


def to_wire(event: Event, context: EventContext) -> dict[str, Any]:
    internal = {k: v for k, v in asdict(event.internal).items() if k in _INTERNAL_FIELDS}
    return {
        "room_version": event.room_version.identifier,
        "pdu": event.pdu,
        "unsigned": event.unsigned,
        "internal": internal,
        "context": {
            "state_before": [[t, sk, eid] for (t, sk), eid in context.state_before.items()],
            "state_group_before": context.state_group_before,
            "base_group": context.base_group,
            "local": context.local,
        },
    }


def _bad(why: str) -> MatrixError:
    return MatrixError(Codes.BAD_JSON, f"Malformed event hand-over: {why}", 400)


def from_wire(body: dict[str, Any]) -> tuple[Event, EventContext]:
    identifier = body.get("room_version")
    rv = KNOWN_ROOM_VERSIONS.get(identifier) if isinstance(identifier, str) else None
    if rv is None:
        raise _bad("unknown room version")
    pdu, unsigned, internal, ctx = body.get("pdu"), body.get("unsigned"), body.get("internal"), body.get("context")
    if not all(isinstance(x, dict) for x in (pdu, unsigned, internal, ctx)):
        raise _bad("pdu, unsigned, internal and context must be objects")
    meta = InternalMetadata(**{k: v for k, v in internal.items() if k in _INTERNAL_FIELDS})
    triples = ctx.get("state_before")
    if not isinstance(triples, list) or not all(
            isinstance(t, list) and len(t) == 3 and all(isinstance(x, str) for x in t) for t in triples):
        raise _bad("context.state_before must be a list of [type, state_key, event_id]")
    for key in ("state_group_before", "base_group"):
        if ctx.get(key) is not None and not isinstance(ctx.get(key), int):
            raise _bad(f"context.{key} must be an integer")
    context = EventContext(state_before={(t, sk): eid for t, sk, eid in triples},
                           state_group_before=ctx.get("state_group_before"), base_group=ctx.get("base_group"),
                           local=bool(ctx.get("local")))
    return Event(pdu, rv, unsigned=unsigned, internal=meta), context


def persist_remotely(writer: str, event: Event, context: EventContext) -> int | None:
    """Persist on `writer`; returns the position once this process can read it."""
    from apps.streams.replication_http import call_instance, wait_for_position

    answer = call_instance(writer, PERSIST_PATH + quote(event.room_id, safe=""), to_wire(event, context))
    position = answer.get("stream_ordering")
    if position is not None and not isinstance(position, int):
        raise MatrixError(Codes.UNKNOWN, "The event persister gave no position", 502)
    event.internal.stream_ordering = position
    if position is not None:
        wait_for_position("events", position)
    return position


def persist_handed_over(room_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The writer's side: persist an event another instance built, if this instance writes its room."""
    from hsproject import instance

    from .persister import persist_event, writer_for_room

    event, context = from_wire(body)
    if event.room_id != room_id:
        raise _bad("the event is not in the room of the path")
    writer = writer_for_room(room_id)
    if writer != instance.name():
        # The room moved (or the sender's view of the assignment is stale): it must ask again. The
        # persisting transaction checks the same under the room's lock (apps.rooms.handover).
        from .handover import RoomMoved

        raise RoomMoved(room_id, writer)
    return {"stream_ordering": persist_event(event, context), "instance": instance.name()}
