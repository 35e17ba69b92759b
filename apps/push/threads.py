"""Which thread an event belongs to: "main", or the event ID of its thread root.

Spec: client-server API, "Threaded read receipts" / "Marking notifications as read": an event is in a
thread when it has an `m.thread` relation, or when following its relations leads to an event with one;
a thread root and events related to it by other relations are in the main timeline. At most 3 hops
are followed, as the spec recommends.
"""
from __future__ import annotations

from typing import Any, Callable

MAIN = "main"
MAX_HOPS = 3


def _relation(content: Any) -> tuple[str, str] | None:
    rel = content.get("m.relates_to") if isinstance(content, dict) else None
    if not isinstance(rel, dict):
        return None
    rel_type, parent = rel.get("rel_type"), rel.get("event_id")
    if not isinstance(rel_type, str) or not isinstance(parent, str) or not parent.startswith("$"):
        return None
    return parent, rel_type


def thread_of_content(content: Any, load_content: Callable[[str], Any | None]) -> str:
    """The thread of an event with `content`; `load_content(event_id)` gives a parent's content (None
    when unknown). A parent that is a thread root puts its non-thread children in the main timeline."""
    for _ in range(MAX_HOPS):
        rel = _relation(content)
        if rel is None:
            return MAIN
        parent, rel_type = rel
        if rel_type == "m.thread":
            return parent
        content = load_content(parent)
        if content is None:
            return MAIN
    return MAIN


def thread_of_event(content: Any, room_id: str) -> str:
    """`thread_of_content`, loading parents from the room's stored events (one query per hop, and only
    for events with a non-thread relation)."""
    from apps.rooms import stores

    def load(event_id: str) -> Any | None:
        ev = stores.get_event(event_id)
        return ev.content if ev is not None and ev.room_id == room_id else None

    return thread_of_content(content, load)
