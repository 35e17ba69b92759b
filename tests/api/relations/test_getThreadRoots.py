"""GET /_matrix/client/v1/rooms/{roomId}/threads: thread roots by latest activity, with their m.thread
aggregation; include=participated; pagination; who may list."""
from __future__ import annotations

from tests.api.relations.helpers import API, create_room, ids, in_thread, send_id, text, threads
from tests.conftest import assert_error


def test_threads_by_latest_activity(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    a = send_id(alice, room_id, text("a"))
    b = send_id(bob, room_id, text("b"))
    c = send_id(alice, room_id, text("c"))
    send_id(alice, room_id, text("not a thread"))
    send_id(alice, room_id, in_thread(a, "a1"))
    send_id(alice, room_id, in_thread(b, "b1"))
    send_id(alice, room_id, in_thread(c, "c1"))
    send_id(bob, room_id, in_thread(a, "a2"))  # a is now the most recently active

    body = threads(alice, room_id).json_body
    assert ids(body["chunk"]) == [a, c, b]
    assert "next_batch" not in body
    agg = body["chunk"][0]["unsigned"]["m.relations"]["m.thread"]
    assert agg["count"] == 2 and agg["latest_event"]["content"]["body"] == "a2"

    # bob started b and replied in a.
    assert ids(threads(bob, room_id, include="participated").json_body["chunk"]) == [a, b]
    assert ids(threads(alice, room_id, include="participated").json_body["chunk"]) == [a, c, b]

    page1 = threads(alice, room_id, limit=2).json_body
    assert ids(page1["chunk"]) == [a, c]
    page2 = threads(alice, room_id, limit=2, **{"from": page1["next_batch"]}).json_body
    assert ids(page2["chunk"]) == [b] and "next_batch" not in page2


def test_no_thread_off_a_relation(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    reply = send_id(alice, room_id, in_thread(root, "reply"))
    send_id(alice, room_id, in_thread(reply, "nested thread"))  # ignored: its parent relates to another
    assert ids(threads(alice, room_id).json_body["chunk"]) == [root]


def test_who_may_list_threads(alice, bob):
    private = create_room(alice, preset="private_chat")
    hidden = send_id(alice, private, text("hidden"))
    send_id(alice, private, in_thread(hidden, "r"))
    assert_error(threads(bob, private), 403, "M_FORBIDDEN")
    assert_error(threads(bob, "!unknown:test.local"), 403, "M_FORBIDDEN")
    assert alice.put(f"{API}/rooms/{private}/state/m.room.history_visibility",
                     {"history_visibility": "world_readable"}).status_code == 200
    root = send_id(alice, private, text("root"))
    send_id(alice, private, in_thread(root, "r"))
    # The room may be read now, but the first thread's root was said while it was not world-readable.
    assert ids(threads(bob, private).json_body["chunk"]) == [root]
    assert ids(threads(alice, private).json_body["chunk"]) == [root, hidden]


def test_bad_parameters(alice):
    room_id = create_room(alice, preset="public_chat")
    assert_error(threads(alice, room_id, include="some"), 400, "M_INVALID_PARAM")
    assert_error(threads(alice, room_id, **{"from": "garbage"}), 400, "M_INVALID_PARAM")
    assert_error(threads(alice, room_id, limit=0), 400, "M_INVALID_PARAM")
    assert_error(threads(alice, room_id, limit="x"), 400, "M_INVALID_PARAM")
