"""GET /sync (client-server API, "Syncing"): initial and incremental syncs, memberships, long-polls,
tokens, filters. Through HTTP, with real commits (see conftest)."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests.api.rooms.helpers import create_room, send
from tests.conftest import MatrixClient, assert_error

from tests.api.sync.helpers import API, bodies, sync, timeline_ids

pytestmark = pytest.mark.django_db(transaction=True)


def _msg(client, room_id, body):
    resp = send(client, room_id, {"msgtype": "m.text", "body": body})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def test_initial_sync_shape(alice):
    room_id = create_room(alice, name="Room")
    eid = _msg(alice, room_id, "hello")
    body = sync(alice)
    assert isinstance(body["next_batch"], str)
    # The user's own presence (this sync's set_presence made them online), nobody else's.
    assert [(e["type"], e["sender"]) for e in body["presence"]["events"]] == [("m.presence", alice.user_id)]
    # The only account data of a new user: their push rules (spec "Push Rules: Events").
    assert [e["type"] for e in body["account_data"]["events"]] == ["m.push_rules"]
    for key, value in (("to_device", {"events": []}), ("device_lists", {"changed": [], "left": []}),
                       ("device_one_time_keys_count", {"signed_curve25519": 0}), ("device_unused_fallback_key_types", [])):
        assert body[key] == value
    assert set(body["rooms"]) == {"join", "invite", "leave", "knock"}
    room = body["rooms"]["join"][room_id]
    assert timeline_ids(body, room_id)[-1] == eid
    assert room["timeline"]["events"][-1]["content"]["body"] == "hello"
    assert "room_id" not in room["timeline"]["events"][-1]
    assert room["ephemeral"] == {"events": []} and room["account_data"] == {"events": []}
    assert room["unread_notifications"] == {"highlight_count": 0, "notification_count": 0}
    assert room["summary"] == {"m.heroes": [], "m.joined_member_count": 1, "m.invited_member_count": 0}
    # Everything the room has is in the timeline or in the state before it, exactly once.
    seen_types = [(e["type"], e.get("state_key")) for e in room["state"]["events"] + room["timeline"]["events"]]
    assert ("m.room.create", "") in seen_types and ("m.room.name", "") in seen_types
    all_ids = [e["event_id"] for e in room["state"]["events"] + room["timeline"]["events"]]
    assert len(all_ids) == len(set(all_ids))


def test_initial_sync_limit_and_state_at_timeline_start(alice):
    room_id = create_room(alice)
    sent = [_msg(alice, room_id, str(i)) for i in range(4)]
    body = sync(alice, filter={"room": {"timeline": {"limit": 2}}})
    room = body["rooms"]["join"][room_id]
    assert timeline_ids(body, room_id) == sent[-2:]
    assert room["timeline"]["limited"] is True
    assert room["timeline"]["prev_batch"].startswith("s")
    state_types = {(e["type"], e["state_key"]) for e in room["state"]["events"]}
    assert {("m.room.create", ""), ("m.room.member", alice.user_id), ("m.room.power_levels", ""),
            ("m.room.join_rules", "")} <= state_types


def test_incremental_sync_returns_exactly_the_new_events(alice):
    room_id = create_room(alice)
    first = sync(alice)
    new = [_msg(alice, room_id, f"m{i}") for i in range(3)]
    second = sync(alice, first["next_batch"])
    assert timeline_ids(second, room_id) == new
    room = second["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is False and room["state"] == {"events": []}
    # Nothing new: no rooms, and the token does not go back.
    third = sync(alice, second["next_batch"])
    assert third["rooms"]["join"] == {}
    assert third["next_batch"] == second["next_batch"]


def test_limited_incremental_sync_carries_the_state_changed_before_the_timeline(alice):
    room_id = create_room(alice)
    since = sync(alice)["next_batch"]
    alice.put(f"{API}/rooms/{room_id}/state/m.room.topic", {"topic": "new topic"})
    for i in range(12):
        _msg(alice, room_id, str(i))
    body = sync(alice, since)
    room = body["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True and len(room["timeline"]["events"]) == 10
    assert [e["content"] for e in room["state"]["events"] if e["type"] == "m.room.topic"][0]["topic"] == "new topic"


def test_invite_join_leave_move_the_room_between_sections(alice, bob):
    room_id = create_room(alice, name="Party")
    since = sync(bob)["next_batch"]
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    body = sync(bob, since)
    assert room_id not in body["rooms"]["join"]
    invite = body["rooms"]["invite"][room_id]["invite_state"]["events"]
    types = {e["type"] for e in invite}
    assert {"m.room.create", "m.room.join_rules", "m.room.name", "m.room.member"} <= types
    me = [e for e in invite if e["type"] == "m.room.member" and e["state_key"] == bob.user_id][0]
    assert me["content"]["membership"] == "invite" and me["sender"] == alice.user_id
    for e in invite:
        assert set(e) >= {"content", "sender", "state_key", "type"}

    since = body["next_batch"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    body = sync(bob, since)
    assert room_id not in body["rooms"]["invite"]
    room = body["rooms"]["join"][room_id]
    # Newly joined: the full state before the timeline (the room's name, its creator's membership).
    keys = {(e["type"], e["state_key"]) for e in room["state"]["events"] + room["timeline"]["events"]}
    assert ("m.room.name", "") in keys and ("m.room.member", alice.user_id) in keys
    assert room["timeline"]["events"][-1]["state_key"] == bob.user_id
    assert room["summary"]["m.joined_member_count"] == 2 and room["summary"]["m.heroes"] == [alice.user_id]

    since = body["next_batch"]
    _msg(alice, room_id, "before you go")
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    _msg(alice, room_id, "after you left")
    body = sync(bob, since)
    assert room_id not in body["rooms"]["join"]
    left = body["rooms"]["leave"][room_id]
    events = left["timeline"]["events"]
    assert events[-1]["type"] == "m.room.member" and events[-1]["content"]["membership"] == "leave"
    assert "before you go" in [e["content"].get("body") for e in events]
    assert "after you left" not in [e["content"].get("body") for e in events]
    # A later sync does not repeat the left room; an initial sync shows it only with include_leave.
    assert room_id not in sync(bob, body["next_batch"])["rooms"]["leave"]
    assert room_id not in sync(bob)["rooms"]["leave"]
    assert room_id in sync(bob, filter={"room": {"include_leave": True}})["rooms"]["leave"]


def test_rejected_invite_shows_only_the_leave(alice, bob):
    room_id = create_room(alice)
    _msg(alice, room_id, "secret")
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    since = sync(bob)["next_batch"]
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    left = sync(bob, since)["rooms"]["leave"][room_id]
    assert [e["type"] for e in left["timeline"]["events"]] == ["m.room.member"]


def test_initial_sync_of_an_invited_user(alice, bob):
    room_id = create_room(alice, invite=[bob.user_id])
    body = sync(bob)
    assert room_id in body["rooms"]["invite"] and room_id not in body["rooms"]["join"]


@pytest.mark.parametrize("since", ["garbage", "s1_x", "t5", "s" + "9" * 30, "m5~1.2", "s-1"])
def test_garbage_since_is_invalid_param(alice, since):
    assert_error(alice.get(f"{API}/sync?since={since}"), 400, "M_INVALID_PARAM")


@pytest.mark.parametrize("query, errcode", [
    ("timeout=soon", "M_INVALID_PARAM"), ("timeout=-5", "M_INVALID_PARAM"), ("full_state=maybe", "M_INVALID_PARAM"),
    ("set_presence=busy", "M_INVALID_PARAM"), ("filter=12345", "M_INVALID_PARAM"), ("filter={nope", "M_NOT_JSON"),
    ("filter=%7B%22room%22%3A1%7D", "M_BAD_JSON"),
])
def test_bad_parameters_are_400(alice, query, errcode):
    assert_error(alice.get(f"{API}/sync?{query}"), 400, errcode)


def test_sync_needs_a_token(mx):
    assert_error(mx.get(f"{API}/sync"), 401, "M_MISSING_TOKEN")


def test_set_presence_values_are_accepted(alice):
    for value in ("online", "offline", "unavailable"):
        sync(alice, set_presence=value)


def test_stored_filter_limits_and_types(alice):
    room_id = create_room(alice)
    for i in range(3):
        _msg(alice, room_id, str(i))
    fid = alice.post(f"{API}/user/{alice.user_id}/filter",
                     {"room": {"timeline": {"limit": 2, "types": ["m.room.message"]}}}).json_body["filter_id"]
    body = sync(alice, filter=fid)
    assert bodies(body, room_id) == ["1", "2"]
    assert {e["type"] for e in body["rooms"]["join"][room_id]["timeline"]["events"]} == {"m.room.message"}
    fields = sync(alice, filter={"event_fields": ["type", "content.body"], "room": {"timeline": {"limit": 1}}})
    assert fields["rooms"]["join"][room_id]["timeline"]["events"] == [{"type": "m.room.message",
                                                                       "content": {"body": "2"}}]


def test_rooms_filter_and_lazy_loaded_members(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    other = create_room(alice)
    bob.post(f"{API}/rooms/{room_id}/join")
    _msg(alice, room_id, "from alice")
    body = sync(bob, filter={"room": {"rooms": [room_id], "state": {"lazy_load_members": True},
                                      "timeline": {"limit": 1}}})
    assert set(body["rooms"]["join"]) == {room_id}
    assert other not in body["rooms"]["join"]
    members = {e["state_key"] for e in body["rooms"]["join"][room_id]["state"]["events"]
               if e["type"] == "m.room.member"}
    assert members == {alice.user_id, bob.user_id}  # the timeline's sender, and the user


def test_full_state_sync_returns_all_state(alice):
    room_id = create_room(alice)
    since = sync(alice)["next_batch"]
    _msg(alice, room_id, "x")
    body = sync(alice, since, full_state=True)
    types = {e["type"] for e in body["rooms"]["join"][room_id]["state"]["events"]}
    assert {"m.room.create", "m.room.power_levels", "m.room.member"} <= types
    assert bodies(body, room_id) == ["x"]


def _clone(client):
    c = MatrixClient()
    c.token, c.user_id, c.device_id = client.token, client.user_id, client.device_id
    return c


def _sync_in_thread(client, since, timeout_ms):
    out: dict = {}

    def run():
        try:
            started = time.monotonic()
            out["body"] = sync(_clone(client), since, timeout=timeout_ms)
            out["elapsed"] = time.monotonic() - started
        except BaseException as e:  # noqa: BLE001 - reported by the test
            out["error"] = e
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_long_poll_wakes_when_another_user_sends(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    since = sync(bob)["next_batch"]
    t, out = _sync_in_thread(bob, since, 20_000)
    time.sleep(0.5)
    assert t.is_alive(), out  # waiting
    eid = _msg(alice, room_id, "wake up")
    t.join(5)
    assert not t.is_alive(), "the long-poll was not woken"
    assert "error" not in out, out
    assert timeline_ids(out["body"], room_id) == [eid]
    assert out["elapsed"] < 5


def test_long_poll_wakes_the_invitee(alice, bob):
    room_id = create_room(alice)
    since = sync(bob)["next_batch"]
    t, out = _sync_in_thread(bob, since, 20_000)
    time.sleep(0.5)
    alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id})
    t.join(5)
    assert not t.is_alive(), "the invite did not wake the invitee"
    assert room_id in out["body"]["rooms"]["invite"]


def test_long_poll_times_out_empty(alice, bob):
    room_id = create_room(alice)
    since = sync(bob)["next_batch"]
    started = time.monotonic()
    _msg(alice, room_id, "not for bob")
    body = sync(bob, since, timeout=300)
    assert time.monotonic() - started >= 0.25
    assert body["rooms"]["join"] == {} and body["rooms"]["invite"] == {}


def test_interleaved_sends_and_syncs_never_duplicate_or_skip(alice, bob):
    rooms = [create_room(alice, preset="public_chat") for _ in range(2)]
    for r in rooms:
        bob.post(f"{API}/rooms/{r}/join")
    token = sync(bob)["next_batch"]
    sent: dict[str, list[str]] = {r: [] for r in rooms}
    got: dict[str, list[str]] = {r: [] for r in rooms}
    for i in range(30):
        r = rooms[i % 2]
        sender = alice if i % 3 else bob
        sent[r].append(_msg(sender, r, str(i)))
        if i % 4 == 0:
            body = sync(bob, token, filter={"room": {"timeline": {"limit": 50}}})
            for room_id, room in body["rooms"]["join"].items():
                got[room_id].extend(e["event_id"] for e in room["timeline"]["events"])
            token = body["next_batch"]
    body = sync(bob, token, filter={"room": {"timeline": {"limit": 50}}})
    for room_id, room in body["rooms"]["join"].items():
        got[room_id].extend(e["event_id"] for e in room["timeline"]["events"])
    assert got == sent


def test_concurrent_senders_while_long_polling(alice, bob):
    """Long-polls chained on next_batch while another thread sends: every event exactly once, in order."""
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    token = sync(bob)["next_batch"]
    sent: list[str] = []
    done = threading.Event()

    def sender():
        try:
            c = _clone(alice)
            for i in range(15):
                sent.append(_msg(c, room_id, str(i)))
                time.sleep(0.02)
        finally:
            done.set()
            connection.close()

    t = threading.Thread(target=sender)
    t.start()
    got: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not done.is_set() or len(got) < len(sent)):
        body = sync(bob, token, timeout=1000, filter={"room": {"timeline": {"limit": 100}}})
        room = body["rooms"]["join"].get(room_id)
        if room:
            got.extend(e["event_id"] for e in room["timeline"]["events"] if e["type"] == "m.room.message")
        token = body["next_batch"]
    t.join(10)
    assert got == sent


def test_history_visibility_joined_hides_what_was_said_before_the_join(alice, bob):
    room_id = create_room(alice, preset="public_chat", initial_state=[
        {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": "joined"}}])
    _msg(alice, room_id, "before")
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    _msg(alice, room_id, "after")
    body = sync(bob)
    assert bodies(body, room_id) == ["after"]
    assert bodies(sync(alice), room_id) == ["before", "after"]
