"""Bundled aggregations (`unsigned.m.relations`) on /event, /messages, /context and /relations:
m.thread, m.replace (the most recent valid edit), m.reference; one bounded set of queries per page."""
from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.api.relations.helpers import (
    API, create_room, edit, get_event, in_thread, reaction, reference, relations, send_id, text,
)


def _rels(event: dict) -> dict:
    return event.get("unsigned", {}).get("m.relations", {})


def test_thread_aggregation(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    root = send_id(alice, room_id, text("root"))
    send_id(bob, room_id, in_thread(root, "one"))
    last = send_id(bob, room_id, in_thread(root, "two"))
    fix = send_id(bob, room_id, edit(last, "two!"))

    thread = _rels(get_event(alice, room_id, root))["m.thread"]
    assert thread["count"] == 2
    assert thread["current_user_participated"] is True  # alice sent the root
    latest = thread["latest_event"]
    assert latest["event_id"] == last and latest["content"]["body"] == "two" and latest["room_id"] == room_id
    # The latest event carries its own aggregations.
    assert _rels(latest)["m.replace"]["event_id"] == fix

    carol = alice.__class__()
    carol.register("carol")
    assert carol.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    assert _rels(get_event(carol, room_id, root))["m.thread"]["current_user_participated"] is False
    assert _rels(get_event(bob, room_id, root))["m.thread"]["current_user_participated"] is True


def test_redacted_thread_reply_is_deaggregated(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    first = send_id(alice, room_id, in_thread(root, "one"))
    second = send_id(alice, room_id, in_thread(root, "two"))
    assert alice.put(f"{API}/rooms/{room_id}/redact/{second}/r1", {}).status_code == 200
    thread = _rels(get_event(alice, room_id, root))["m.thread"]
    assert thread["count"] == 1 and thread["latest_event"]["event_id"] == first
    assert alice.put(f"{API}/rooms/{room_id}/redact/{first}/r2", {}).status_code == 200
    assert "m.thread" not in _rels(get_event(alice, room_id, root))


def test_replace_takes_the_most_recent_valid_edit(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    original = send_id(alice, room_id, text("hello"))
    send_id(alice, room_id, edit(original, "hello 1"))
    latest = send_id(alice, room_id, edit(original, "hello 2"))
    # Invalid: another sender, another type, no m.new_content.
    send_id(bob, room_id, edit(original, "bob was here"))
    send_id(alice, room_id, edit(original, "as a sticker"), event_type="m.sticker")
    send_id(alice, room_id, text("no new content", **{"m.relates_to": {"rel_type": "m.replace",
                                                                        "event_id": original}}))
    served = get_event(alice, room_id, original)
    replace = _rels(served)["m.replace"]
    assert replace["event_id"] == latest
    assert replace["sender"] == alice.user_id and replace["type"] == "m.room.message"
    assert replace["content"]["m.new_content"]["body"] == "hello 2"
    assert "origin_server_ts" in replace
    # The original's content is left intact.
    assert served["content"]["body"] == "hello"


def test_no_edit_of_an_edit_and_none_on_a_redacted_original(alice):
    room_id = create_room(alice, preset="public_chat")
    original = send_id(alice, room_id, text("hello"))
    first = send_id(alice, room_id, edit(original, "hello 1"))
    send_id(alice, room_id, edit(first, "edit of an edit"))
    assert "m.replace" not in _rels(get_event(alice, room_id, first))
    assert alice.put(f"{API}/rooms/{room_id}/redact/{original}/r", {}).status_code == 200
    assert "m.replace" not in _rels(get_event(alice, room_id, original))


def test_references_and_annotations(alice):
    room_id = create_room(alice, preset="public_chat")
    parent = send_id(alice, room_id, text("parent"))
    r1 = send_id(alice, room_id, reference(parent))
    r2 = send_id(alice, room_id, reference(parent))
    send_id(alice, room_id, reaction(parent), event_type="m.reaction")
    rels = _rels(get_event(alice, room_id, parent))
    assert rels == {"m.reference": {"chunk": [{"event_id": r1}, {"event_id": r2}]}}  # no m.annotation


def test_messages_context_and_relations_bundle(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    reply = send_id(alice, room_id, in_thread(root, "one"))
    send_id(alice, room_id, edit(reply, "one!"))
    chunk = alice.get(f"{API}/rooms/{room_id}/messages?dir=b&limit=10").json_body["chunk"]
    by_id = {e["event_id"]: e for e in chunk}
    assert _rels(by_id[root])["m.thread"]["count"] == 1
    assert "m.replace" in _rels(by_id[reply])
    ctx = alice.get(f"{API}/rooms/{room_id}/context/{reply}?limit=4").json_body
    assert _rels(ctx["event"])["m.replace"]["content"]["m.new_content"]["body"] == "one!"
    assert _rels(next(e for e in ctx["events_before"] if e["event_id"] == root))["m.thread"]["count"] == 1
    listed = relations(alice, room_id, root).json_body["chunk"]
    assert "m.replace" in _rels(listed[0])
    # State events receive no bundled aggregations.
    assert all("m.relations" not in e["unsigned"] for e in chunk if "state_key" in e)


def test_bundling_queries_do_not_grow_with_the_page(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")

    def add_thread(i):
        root = send_id(alice, room_id, text(f"root {i}"))
        reply = send_id(alice, room_id, in_thread(root, f"reply {i}"))
        send_id(alice, room_id, edit(reply, f"reply {i}!"))
        send_id(alice, room_id, edit(root, f"root {i}!"))
        send_id(alice, room_id, reference(root))

    add_thread(0)
    url = f"{API}/rooms/{room_id}/messages?dir=b&limit=5"
    with CaptureQueriesContext(connection) as small:
        assert alice.get(url).status_code == 200
    for i in range(1, 5):
        add_thread(i)
    url = f"{API}/rooms/{room_id}/messages?dir=b&limit=25"
    with CaptureQueriesContext(connection) as big:
        body = alice.get(url).json_body
    assert sum("m.thread" in _rels(e) for e in body["chunk"]) == 5
    assert len(big) <= len(small) + 2, [q["sql"] for q in big.captured_queries]
    with django_assert_max_num_queries(30):
        alice.get(url)
