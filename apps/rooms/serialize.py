"""Events as clients and servers receive them.

* `client`: the client-server API's ClientEvent (client-server API, "Room Events";
  data/api/client-server/definitions/client_event.yaml): `content`, `event_id`,
  `origin_server_ts`, `room_id`, `sender`, `state_key` (state events only), `type`, `unsigned`.
* `client_without_room_id`: ClientEventWithoutRoomID, as /sync nests events under their room.
* `federation`: the PDU, with only `unsigned.age` added (server-local unsigned data such as
  `prev_content` or `redacted_because` never leaves the server).

`unsigned.age` is computed at serialisation time from `unsigned.age_ts` (the local time the event
was sent or received; `origin_server_ts` when absent). `transaction_id` is shown only to the
device that sent the event.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from .events import Event

FORMATS = ("client", "client_without_room_id", "federation")

# --- bundled aggregations (client-server API, "Aggregations of child events") ----------------------
# The app that indexes relations registers `bundler(events, user_id) -> {event_id: {rel_type: agg}}`;
# an aggregation may hold `Event`s (a thread's latest event, an edit), serialised like their parent.
Bundler = Callable[[Sequence[Event], "str | None"], dict[str, dict[str, Any]]]
_bundlers: list[Bundler] = []


def register_bundler(bundler: Bundler) -> None:
    if bundler not in _bundlers:
        _bundlers.append(bundler)


def bundle_aggregations(events: Sequence[Event], user_id: str | None) -> None:
    """Set `unsigned["m.relations"]` of the non-state `events` that have aggregations, in a bounded
    number of queries per call (call once per page, not per event). Mutates the given objects."""
    events = [e for e in events if not e.is_state()]
    if not events:
        return
    for bundler in list(_bundlers):
        found = bundler(events, user_id)
        if not found:
            continue
        for e in events:
            if found.get(e.event_id):
                e.unsigned["m.relations"] = {**e.unsigned.get("m.relations", {}), **found[e.event_id]}

# Server-computed `unsigned` keys that clients may see (client_event_without_room_id.yaml, plus
# `m.relations` aggregations and the stripped state of invites and knocks).
_CLIENT_UNSIGNED_KEYS = ("prev_content", "prev_sender", "replaces_state", "redacted_because",
                         "membership", "m.relations", "invite_room_state", "knock_room_state")


def _age(event: Event, now_ms: int) -> int:
    age_ts = event.unsigned.get("age_ts")
    if not isinstance(age_ts, int) or isinstance(age_ts, bool):
        age_ts = event.origin_server_ts
    return now_ms - age_ts


def client_event(event: Event, *, now_ms: int, requester_device_id: str | None = None,
                 requester_user_id: str | None = None, format: str = "client") -> dict[str, Any]:
    """`event` serialised for a client (`client`, `client_without_room_id`) or a server
    (`federation`). Pass the requesting user too when known: device IDs are unique per user only,
    so `transaction_id` needs both to match."""
    if format not in FORMATS:
        raise ValueError(f"unknown event format {format!r}")

    if format == "federation":
        pdu = event.get_pdu_json()
        pdu["unsigned"] = {"age": _age(event, now_ms)}
        return pdu

    d: dict[str, Any] = {
        "content": event.content,
        "event_id": event.event_id,
        "origin_server_ts": event.origin_server_ts,
        "sender": event.sender,
        "type": event.type,
    }
    if format == "client":
        d["room_id"] = event.room_id
    if event.is_state():
        d["state_key"] = event.state_key
    if event.type == "m.room.redaction" and event.redacts is not None:
        # rooms/v11.md: serve `redacts` both at the top level (older clients) and in `content`
        # (newer clients), whichever of the two the room version keeps it in.
        d["redacts"] = event.redacts
        if "redacts" not in d["content"]:
            d["content"] = {**d["content"], "redacts": event.redacts}

    unsigned: dict[str, Any] = {"age": _age(event, now_ms)}
    for key in _CLIENT_UNSIGNED_KEYS:
        if key in event.unsigned:
            value = event.unsigned[key]
            if key == "redacted_because" and isinstance(value, Event):
                value = client_event(value, now_ms=now_ms, format=format)
            elif key == "m.relations":
                value = _with_events_serialised(value, now_ms=now_ms, requester_device_id=requester_device_id,
                                                requester_user_id=requester_user_id, format=format)
            unsigned[key] = value
    txn_id = event.internal.txn_id
    if (txn_id is not None and requester_device_id is not None
            and event.internal.device_id == requester_device_id
            and (requester_user_id is None or requester_user_id == event.sender)):
        unsigned["transaction_id"] = txn_id
    d["unsigned"] = unsigned
    return d


def _with_events_serialised(value: Any, **kwargs: Any) -> Any:
    if isinstance(value, Event):
        return client_event(value, **kwargs)
    if isinstance(value, dict):
        return {k: _with_events_serialised(v, **kwargs) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_events_serialised(v, **kwargs) for v in value]
    return value
