"""The push-actions hook runs inside every event's persisting transaction: its queries must not grow
with the number of members of the room (DESIGN section 3, hot paths)."""
from __future__ import annotations

import pytest

from apps.push.models import EventPushAction
from tests.api.rooms.helpers import create_room, send
from tests.conftest import MatrixClient

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def _room_with(alice, n: int, prefix: str) -> tuple[str, list[MatrixClient]]:
    room = create_room(alice, preset="public_chat")
    members = []
    for i in range(n):
        c = MatrixClient()
        c.register(f"{prefix}{i}")
        assert c.post(f"{API}/join/{room}").status_code == 200
        members.append(c)
    return room, members


def _send_queries(alice, room, **content):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        resp = send(alice, room, {"msgtype": "m.text", "body": "hi", **content})
    assert resp.status_code == 200
    return len(ctx.captured_queries)


def test_send_queries_do_not_grow_with_members(alice):
    small, _ = _room_with(alice, 1, "few")
    send(alice, small)  # warm caches
    few = _send_queries(alice, small)
    big, members = _room_with(alice, 6, "many")
    # Some members with rules of their own (loaded together by the first send, cached by version after).
    for c in members[:3]:
        assert c.put(f"{API}/pushrules/global/content/hi", {"pattern": "hi", "actions": ["notify"]}).status_code == 200
    send(alice, big)
    many = _send_queries(alice, big, **{"m.mentions": {"room": True}})
    assert many <= few + 4, (few, many)  # the power levels of a room mention, not per member
    ev_rows = EventPushAction.objects.filter(room_id=big).values_list("user_id", flat=True)
    assert set(ev_rows) == {c.user_id for c in members}


def test_hook_query_bound(alice):
    """The hook alone, every member's rules a cache miss and asking for display names: members, own
    position, who ignores the sender, rule versions, rules and default settings of the misses, member
    events, one insert."""
    from apps.push.actions import evaluate_event
    from apps.rooms import stores

    room, members = _room_with(alice, 5, "m")
    for c in members:
        c.put(f"{API}/pushrules/global/override/x", {"conditions": [{"kind": "contains_display_name"}],
                                                     "actions": ["notify"]})
    ev_id = send(alice, room).json_body["event_id"]
    event = stores.get_event(ev_id)
    EventPushAction.objects.filter(event_id=ev_id).delete()
    from apps.push import rules
    rules.clear_cache()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        rows = evaluate_event(event, event.internal.stream_ordering)
    # Outside the persister's transaction each write is its own; count statements, not BEGIN/COMMIT.
    sqls = [q["sql"] for q in ctx.captured_queries if q["sql"].split()[0] not in ("BEGIN", "COMMIT")]
    assert len(sqls) <= 8, "\n".join(q[:200] for q in sqls)
    assert len(rows) == 5
