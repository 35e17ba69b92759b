"""GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]."""
from __future__ import annotations

from tests.api.relations.helpers import (
    API, create_room, edit, ids, in_thread, reaction, reference, relations, send_id, text,
)
from tests.conftest import assert_error


def _room_with_children(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    t1 = send_id(alice, room_id, in_thread(root, "one"))
    ref = send_id(alice, room_id, reference(root))
    t2 = send_id(alice, room_id, in_thread(root, "two"))
    react = send_id(alice, room_id, reaction(root), event_type="m.reaction")
    send_id(alice, room_id, text("unrelated"))
    return room_id, root, [t1, ref, t2, react]


def test_children_newest_first_and_filtered_by_type(alice):
    room_id, root, (t1, ref, t2, react) = _room_with_children(alice)
    resp = relations(alice, room_id, root)
    assert resp.status_code == 200, resp.json_body
    assert ids(resp.json_body["chunk"]) == [react, t2, ref, t1]
    assert "next_batch" not in resp.json_body and "prev_batch" not in resp.json_body
    assert "recursion_depth" not in resp.json_body
    assert resp.json_body["chunk"][0]["room_id"] == room_id

    assert ids(relations(alice, room_id, root, "m.thread").json_body["chunk"]) == [t2, t1]
    assert ids(relations(alice, room_id, root, "m.annotation", "m.reaction").json_body["chunk"]) == [react]
    assert relations(alice, room_id, root, "m.annotation", "m.room.message").json_body["chunk"] == []
    assert relations(alice, room_id, root, "org.example.none").json_body == {"chunk": []}


def test_pagination_backwards_and_forwards(alice):
    room_id, root, children = _room_with_children(alice)
    page1 = relations(alice, room_id, root, limit=3).json_body
    assert ids(page1["chunk"]) == children[::-1][:3]
    page2 = relations(alice, room_id, root, limit=3, **{"from": page1["next_batch"]}).json_body
    assert ids(page2["chunk"]) == children[::-1][3:]
    assert page2["prev_batch"] == page1["next_batch"]
    assert "next_batch" not in page2

    fwd = relations(alice, room_id, root, dir="f", limit=2).json_body
    assert ids(fwd["chunk"]) == children[:2]
    rest = relations(alice, room_id, root, dir="f", **{"from": fwd["next_batch"]}).json_body
    assert ids(rest["chunk"]) == children[2:]

    # `to` from page 1: paginating from the start down to it returns page 1 only.
    bounded = relations(alice, room_id, root, to=page1["next_batch"]).json_body
    assert ids(bounded["chunk"]) == children[::-1][:3]


def test_tokens_of_messages_and_sync_are_accepted(alice):
    room_id, root, children = _room_with_children(alice)
    messages = alice.get(f"{API}/rooms/{room_id}/messages?dir=b&limit=2").json_body
    assert messages["start"].startswith("s")  # a stream position, as /sync's tokens carry
    assert ids(relations(alice, room_id, root, **{"from": messages["start"]}).json_body["chunk"]) == children[::-1]
    # /messages' end is after the last two events (unrelated, reaction): children before it only.
    assert ids(relations(alice, room_id, root, **{"from": messages["end"]}).json_body["chunk"]) == children[:3][::-1]


def test_recurse_follows_relations_of_relations(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    child = send_id(alice, room_id, in_thread(root, "in thread"))
    grandchild = send_id(alice, room_id, reaction(child), event_type="m.reaction")
    great = send_id(alice, room_id, reference(grandchild))
    too_deep = send_id(alice, room_id, reference(great))

    direct = relations(alice, room_id, root).json_body
    assert ids(direct["chunk"]) == [child]
    deep = relations(alice, room_id, root, recurse="true").json_body
    assert ids(deep["chunk"]) == [great, grandchild, child]
    assert too_deep not in ids(deep["chunk"])
    assert deep["recursion_depth"] == 3
    assert relations(alice, room_id, root, recurse="false").json_body["recursion_depth"] == 1
    filtered = relations(alice, room_id, root, "m.reference", recurse="true").json_body
    assert ids(filtered["chunk"]) == [great]


def test_redacted_child_leaves_the_relations(alice):
    room_id, root, (t1, ref, t2, react) = _room_with_children(alice)
    resp = alice.put(f"{API}/rooms/{room_id}/redact/{t2}/r1", {})
    assert resp.status_code == 200, resp.json_body
    assert ids(relations(alice, room_id, root).json_body["chunk"]) == [react, ref, t1]


def test_unknown_hidden_and_foreign_parents_are_not_found(alice, bob):
    room_id, root, _ = _room_with_children(alice)
    assert_error(relations(alice, room_id, "$nope"), 404, "M_NOT_FOUND")
    # Not a member of a private room: the same answer as for a missing event.
    private = create_room(alice, preset="private_chat")
    hidden_root = send_id(alice, private, text("secret"))
    assert_error(relations(bob, private, hidden_root), 404, "M_NOT_FOUND")
    # An event of another room named under this room.
    assert_error(relations(alice, private, root), 404, "M_NOT_FOUND")
    assert_error(relations(alice, room_id, root, dir="x"), 400, "M_INVALID_PARAM")
    assert_error(relations(alice, room_id, root, limit="nope"), 400, "M_INVALID_PARAM")
    assert_error(relations(alice, room_id, root, **{"from": "garbage"}), 400, "M_INVALID_PARAM")
    assert_error(relations(alice, room_id, root, recurse="maybe"), 400, "M_INVALID_PARAM")
    assert_error(relations(alice, room_id, "not-an-event"), 400, "M_INVALID_PARAM")
    mx = alice.__class__()
    assert_error(relations(mx, room_id, root), 401, "M_MISSING_TOKEN")


def test_history_visibility_hides_parent_and_children(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert alice.put(f"{API}/rooms/{room_id}/state/m.room.history_visibility",
                     {"history_visibility": "joined"}).status_code == 200
    root = send_id(alice, room_id, text("before bob"))
    early = send_id(alice, room_id, in_thread(root, "early"))
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    assert_error(relations(bob, room_id, root), 404, "M_NOT_FOUND")

    late_root = send_id(alice, room_id, text("after bob"))
    assert bob.post(f"{API}/rooms/{room_id}/leave", {}).status_code == 200
    after_leave = send_id(alice, room_id, in_thread(late_root, "after leave"))
    visible = relations(bob, room_id, late_root).json_body["chunk"]
    assert after_leave not in ids(visible)
    assert ids(relations(alice, room_id, late_root).json_body["chunk"]) == [after_leave]
    assert ids(relations(alice, room_id, root).json_body["chunk"]) == [early]


def test_edit_listed_under_m_replace(alice):
    room_id = create_room(alice, preset="public_chat")
    original = send_id(alice, room_id, text("hello"))
    e1 = send_id(alice, room_id, edit(original, "hello!"))
    assert ids(relations(alice, room_id, original, "m.replace").json_body["chunk"]) == [e1]
