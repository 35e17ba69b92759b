"""Children sent by ignored users are not aggregated nor listed; a thread root sent by an ignored
user is served redacted by /threads (client-server API, "Ignoring users", getThreadRoots)."""
from __future__ import annotations

from urllib.parse import quote

from tests.api.relations.helpers import (
    API, create_room, get_event, ids, in_thread, reference, relations, send_id, text, threads,
)


def _ignore(client, *user_ids):
    resp = client.put(f"{API}/user/{quote(client.user_id)}/account_data/m.ignored_user_list",
                      {"ignored_users": {u: {} for u in user_ids}})
    assert resp.status_code == 200, resp.json_body


def test_ignored_children_are_not_aggregated_or_listed(alice, bob):
    carol = alice.__class__()
    carol.register("carol")
    room_id = create_room(alice, preset="public_chat")
    for c in (bob, carol):
        assert c.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    root = send_id(alice, room_id, text("root"))
    from_carol = send_id(carol, room_id, in_thread(root, "carol"))
    from_bob = send_id(bob, room_id, in_thread(root, "bob"))
    ref_bob = send_id(bob, room_id, reference(root))
    ref_carol = send_id(carol, room_id, reference(root))

    before = get_event(alice, room_id, root)["unsigned"]["m.relations"]
    assert before["m.thread"]["count"] == 2 and before["m.thread"]["latest_event"]["event_id"] == from_bob
    _ignore(alice, bob.user_id)
    rels = get_event(alice, room_id, root)["unsigned"]["m.relations"]
    assert rels["m.thread"]["count"] == 1
    assert rels["m.thread"]["latest_event"]["event_id"] == from_carol
    assert rels["m.reference"] == {"chunk": [{"event_id": ref_carol}]}
    assert ids(relations(alice, room_id, root).json_body["chunk"]) == [ref_carol, from_carol]
    # Others still see everything.
    assert len(relations(carol, room_id, root).json_body["chunk"]) == 4
    assert ref_bob in ids(relations(carol, room_id, root).json_body["chunk"])


def test_thread_root_of_an_ignored_user_is_redacted(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    root = send_id(bob, room_id, text("bob's thread"))
    send_id(alice, room_id, in_thread(root, "reply"))
    assert threads(alice, room_id).json_body["chunk"][0]["content"]["body"] == "bob's thread"
    _ignore(alice, bob.user_id)
    served = threads(alice, room_id).json_body["chunk"]
    assert ids(served) == [root] and served[0]["content"] == {}
    assert served[0]["unsigned"]["m.relations"]["m.thread"]["count"] == 1
