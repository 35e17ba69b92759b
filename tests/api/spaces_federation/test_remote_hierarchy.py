"""GET /_matrix/client/v1/rooms/{roomId}/hierarchy with children this server is not in: the `via`
servers of the m.space.child event are asked over federation (a signed GET /hierarchy, through the
guarded outbound client), their answers cached; a server that fails or answers nonsense only costs
the rooms it was asked about."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from apps.spaces import handlers
from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

V1 = "/_matrix/client/v1"
FED = "/_matrix/federation/v1"


def space(client, **kw) -> str:
    return create_room(client, creation_content={"type": "m.space"}, **kw)


def add_child(client, parent: str, child: str, via: list[str], **content):
    resp = client.put(f"{API}/rooms/{parent}/state/m.space.child/{quote(child)}", {"via": via, **content})
    assert resp.status_code == 200, resp.json_body


def hierarchy(client, room_id: str, **params):
    query = "&".join(f"{k}={quote(str(v))}" for k, v in params.items())
    return client.get(f"{V1}/rooms/{quote(room_id)}/hierarchy" + (f"?{query}" if query else ""))


def hpath(room_id: str) -> str:
    return f"{FED}/hierarchy/{quote(room_id, safe='')}"


def summary(room_id: str, name: str, **kw) -> dict:
    return {"room_id": room_id, "name": name, "num_joined_members": 3, "world_readable": False,
            "guest_can_join": False, "join_rule": "public", **kw}


def link(child: str, via: str, **content) -> dict:
    return {"type": "m.space.child", "state_key": child, "content": {"via": [via], **content},
            "sender": "@carol:remote.example", "origin_server_ts": 1_700_000_000_000}


def answer(room: dict, children_state: list, children: list | None = None, inaccessible: list | None = None):
    body = {"room": {**room, "children_state": children_state}, "children": children or [],
            "inaccessible_children": inaccessible or []}

    def handler(rec):
        return 200, {}, body
    return handler


def requested(server) -> list[str]:
    return [rec.path.split("?", 1)[0] for rec in server.requests]


def test_remote_children_are_asked_of_their_via_servers(alice, remote_hs):
    hs = remote_hs.server_name
    s = space(alice, preset="public_chat", name="S")
    far = "!far:remote.example"
    x, y, z, hidden = "!x:remote.example", "!y:remote.example", "!z:remote.example", "!h:remote.example"
    add_child(alice, s, far, [hs])
    remote_hs.routes[hpath(far)] = answer(
        summary(far, "Far", room_type="m.space", topic="Far away"),
        [link(x, hs, order="a"), link(y, hs, order="b"), link(z, hs, order="c"), link(hidden, hs, order="d")],
        children=[summary(x, "X"), summary(y, "Y", join_rule="invite"), summary(z, "Z", room_type="m.space"),
                  {"room_id": "!junk:remote.example", "name": 7}],
        inaccessible=[hidden])
    remote_hs.routes[hpath(z)] = answer(summary(z, "Z", room_type="m.space"), [])

    resp = hierarchy(alice, s)
    assert resp.status_code == 200, resp.json_body
    rooms = resp.json_body["rooms"]
    # Y is invite-only (alice is not invited); the hidden room is not followed.
    assert [r["name"] for r in rooms] == ["S", "Far", "X", "Z"]
    far_entry = rooms[1]
    assert far_entry["room_id"] == far and far_entry["topic"] == "Far away" and far_entry["room_type"] == "m.space"
    assert [c["state_key"] for c in far_entry["children_state"]] == [x, y, z, hidden]
    assert rooms[2]["children_state"] == [] and rooms[2]["num_joined_members"] == 3
    # X is described by Far's answer; Z, a space, is asked for its own children.
    assert requested(remote_hs) == [hpath(far), hpath(z)]
    first = remote_hs.requests[0]
    assert first.headers["authorization"].startswith("X-Matrix ")
    assert parse_qs(urlsplit(first.path).query) == {"suggested_only": ["false"]}

    # The answers are cached: the same walk asks nobody again.
    again = hierarchy(alice, s).json_body["rooms"]
    assert [r["name"] for r in again] == ["S", "Far", "X", "Z"]
    assert len(remote_hs.requests) == 2

    assert [r["name"] for r in hierarchy(alice, s, max_depth=1).json_body["rooms"]] == ["S", "Far"]


def test_suggested_only_is_passed_on(alice, remote_hs):
    hs = remote_hs.server_name
    s = space(alice, preset="public_chat", name="S")
    far = "!far:remote.example"
    add_child(alice, s, far, [hs], suggested=True)
    a, b = "!a:remote.example", "!b:remote.example"
    remote_hs.routes[hpath(far)] = answer(summary(far, "Far", room_type="m.space"),
                                          [link(a, hs, suggested=True), link(b, hs)],
                                          children=[summary(a, "A"), summary(b, "B")])
    body = hierarchy(alice, s, suggested_only="true").json_body
    assert [r["name"] for r in body["rooms"]] == ["S", "Far", "A"]
    assert [c["state_key"] for c in body["rooms"][1]["children_state"]] == [a]
    assert parse_qs(urlsplit(remote_hs.requests[-1].path).query) == {"suggested_only": ["true"]}


def test_failing_servers_leave_their_rooms_out(alice, remote_hs, tls_server):
    hs = remote_hs.server_name
    dead = tls_server()
    dead_name = dead.server_name
    dead.close()  # nothing listens there any more
    s = space(alice, preset="public_chat", name="S")
    good, wrong, garbage, partial, unreachable, refused, blocked = (
        f"!{n}:remote.example" for n in ("good", "wrong", "garbage", "partial", "unreachable", "refused", "blocked"))
    for i, room in enumerate((wrong, garbage, partial, unreachable, refused, blocked, good)):
        via = {unreachable: [dead_name], blocked: ["10.0.0.1:8448"]}.get(room, [hs])
        add_child(alice, s, room, via, order=str(i))
    remote_hs.routes[hpath(good)] = answer(summary(good, "Good"), [])
    remote_hs.routes[hpath(wrong)] = answer(summary("!other:remote.example", "Wrong"), [])
    remote_hs.routes[hpath(garbage)] = lambda rec: (200, {"Content-Type": "application/json"}, b"{not json")
    remote_hs.routes[hpath(partial)] = answer({"room_id": partial, "name": "Partial"}, [])
    remote_hs.routes[hpath(refused)] = lambda rec: (404, {}, {"errcode": "M_NOT_FOUND", "error": "no"})

    resp = hierarchy(alice, s)
    assert resp.status_code == 200, resp.json_body
    assert [r["name"] for r in resp.json_body["rooms"]] == ["S", "Good"]
    # The private address was never connected to, and nothing but the loopback servers was asked.
    assert set(requested(remote_hs)) == {hpath(r) for r in (good, wrong, garbage, partial, refused)}

    # Failures are remembered briefly too: the next page of the same walk does not ask again.
    asked = len(remote_hs.requests)
    assert [r["name"] for r in hierarchy(alice, s).json_body["rooms"]] == ["S", "Good"]
    assert len(remote_hs.requests) == asked


def test_a_second_via_server_is_tried(alice, remote_hs, tls_server):
    first = tls_server()
    first.routes[hpath("!r:remote.example")] = lambda rec: (500, {}, {"errcode": "M_UNKNOWN", "error": "boom"})
    s = space(alice, preset="public_chat", name="S")
    add_child(alice, s, "!r:remote.example", [first.server_name, remote_hs.server_name])
    remote_hs.routes[hpath("!r:remote.example")] = answer(summary("!r:remote.example", "R"), [])
    assert [r["name"] for r in hierarchy(alice, s).json_body["rooms"]] == ["S", "R"]
    assert len(first.requests) == 1 and len(remote_hs.requests) == 1


def test_restricted_remote_room_follows_the_users_memberships(alice, bob, remote_hs):
    hs = remote_hs.server_name
    s = space(alice, preset="public_chat", name="S")
    r = "!restricted:remote.example"
    add_child(alice, s, r, [hs])
    remote_hs.routes[hpath(r)] = answer(summary(r, "R", join_rule="restricted", allowed_room_ids=[s]), [])
    assert [x["name"] for x in hierarchy(alice, s).json_body["rooms"]] == ["S", "R"]
    assert [x["name"] for x in hierarchy(bob, s).json_body["rooms"]] == ["S"]
    assert bob.post(f"{API}/rooms/{s}/join", {}).status_code == 200
    entry = hierarchy(bob, s).json_body["rooms"][1]
    assert entry["name"] == "R" and entry["allowed_room_ids"] == [s]


def test_local_rooms_are_described_from_local_state(alice, remote_hs):
    hs = remote_hs.server_name
    s = space(alice, preset="public_chat", name="S")
    far = "!far:remote.example"
    mine = create_room(alice, preset="public_chat", name="Mine")
    add_child(alice, s, far, [hs])
    # The other server describes one of our rooms (stale name) and calls it inaccessible to us.
    remote_hs.routes[hpath(far)] = answer(summary(far, "Far", room_type="m.space"), [link(mine, hs)],
                                          children=[summary(mine, "Stale")], inaccessible=[mine])
    assert [x["name"] for x in hierarchy(alice, s).json_body["rooms"]] == ["S", "Far", "Mine"]
    assert requested(remote_hs) == [hpath(far)]


def test_remote_answers_bounded_per_page(alice, remote_hs, monkeypatch):
    monkeypatch.setattr(handlers, "MAX_REMOTE_FETCHES", 1)
    hs = remote_hs.server_name
    s = space(alice, preset="public_chat", name="S")
    children = [f"!r{i}:remote.example" for i in range(3)]
    for i, room in enumerate(children):
        add_child(alice, s, room, [hs], order=str(i))
        remote_hs.routes[hpath(room)] = answer(summary(room, f"R{i}"), [])
    pages, token = [], None
    while True:
        body = hierarchy(alice, s, **({"from": token} if token else {})).json_body
        pages.append([r["name"] for r in body["rooms"]])
        token = body.get("next_batch")
        if token is None:
            break
    assert pages == [["S", "R0"], ["R1"], ["R2"]]
    assert requested(remote_hs) == [hpath(room) for room in children]


def test_a_space_this_server_is_not_in_is_forbidden(alice, remote_hs):
    remote_hs.routes[hpath("!far:remote.example")] = answer(summary("!far:remote.example", "Far"), [])
    assert_error(hierarchy(alice, "!far:remote.example"), 403, "M_FORBIDDEN")
    assert remote_hs.requests == []


@pytest.mark.parametrize("raw, ok", [
    ({"room": {"room_id": "!r:x", "num_joined_members": 1, "world_readable": False, "guest_can_join": False,
               "children_state": []}, "children": [], "inaccessible_children": []}, True),
    ({"room": {"room_id": "!r:x", "num_joined_members": 1, "world_readable": False, "guest_can_join": False}}, False),
    ({"room": {"room_id": "!r:x", "num_joined_members": True, "world_readable": False, "guest_can_join": False,
               "children_state": []}}, False),
    ({"room": {"room_id": "!r:x", "num_joined_members": 1, "world_readable": "no", "guest_can_join": False,
               "children_state": []}}, False),
    ([], False),
])
def test_answer_checks(raw, ok):
    from apps.spaces.remote import parse_answer

    assert (parse_answer("!r:x", json.loads(json.dumps(raw))) is not None) is ok


def test_answer_keeps_only_summary_fields_and_valid_child_states():
    from apps.spaces.remote import parse_answer

    raw = {"room": {"room_id": "!r:x", "num_joined_members": 2, "world_readable": True, "guest_can_join": False,
                    "name": "R", "topic": 5, "evil": "<script>", "allowed_room_ids": ["!a:x", 3],
                    "children_state": [link("!c:x", "x"), {"type": "m.room.name", "state_key": ""},
                                       {**link("!d:x", "x"), "origin_server_ts": "soon"}]},
           "children": [{"room_id": "!c:x", "num_joined_members": 1, "world_readable": False,
                         "guest_can_join": False}, "junk"],
           "inaccessible_children": ["!h:x", 4]}
    answer_ = parse_answer("!r:x", raw)
    assert answer_.room == {"room_id": "!r:x", "num_joined_members": 2, "world_readable": True,
                            "guest_can_join": False, "name": "R", "allowed_room_ids": ["!a:x"],
                            "children_state": [link("!c:x", "x")]}
    assert list(answer_.children) == ["!c:x"] and answer_.children["!c:x"]["children_state"] == []
    assert answer_.inaccessible == frozenset({"!h:x"})


def test_an_invite_only_remote_room_is_shown_to_its_invitees(alice, bob, remote_hs):
    from tests.api.federation.remote import FED as FED_ROOT, FakeRemote, q

    hs = remote_hs.server_name
    s = space(alice, preset="public_chat", name="S")
    room = "!den:remote.test"
    add_child(alice, s, room, [hs])
    remote_hs.routes[hpath(room)] = answer(summary(room, "Den", join_rule="invite"), [])
    assert [x["name"] for x in hierarchy(alice, s).json_body["rooms"]] == ["S"]

    # remote.test invites alice (an out-of-band membership here: this server is not in the room).
    inviter = FakeRemote("remote.test")
    invite = inviter.event(room, inviter.user("carol"), "m.room.member", {"membership": "invite"},
                           state_key=alice.user_id, prev=["$prev"], auth=["$create", "$pl", "$join"], depth=5,
                           room_version="10")
    resp = inviter.put(f"{FED_ROOT}/v2/invite/{q(room)}/{q(invite.event_id)}",
                       {"room_version": "10", "event": invite.get_pdu_json(), "invite_room_state": []})
    assert resp.status_code == 200, resp.json_body
    assert [x["name"] for x in hierarchy(alice, s).json_body["rooms"]] == ["S", "Den"]
    assert [x["name"] for x in hierarchy(bob, s).json_body["rooms"]] == ["S"]
