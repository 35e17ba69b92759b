"""postReceipt and setReadMarker: m.read, m.read.private, m.fully_read, threaded receipts, the m.receipt
events of /sync, and the errors of both endpoints."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room, send
from tests.api.sync.helpers import sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def receipt(client, room_id, event_id, rtype="m.read", body=None):
    return client.post(f"{API}/rooms/{room_id}/receipt/{rtype}/{event_id}", body if body is not None else {})


def receipts_in(body, room_id):
    entry = body["rooms"]["join"].get(room_id)
    if entry is None:
        return []
    return [e["content"] for e in entry["ephemeral"]["events"] if e["type"] == "m.receipt"]


@pytest.fixture
def room(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/join/{room_id}").status_code == 200
    return room_id


def msg(client, room_id, body=None):
    resp = send(client, room_id, body or {"msgtype": "m.text", "body": "hello"})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def test_public_receipt_reaches_both_users(alice, bob, room):
    ev = msg(alice, room)
    a_since, b_since = sync(alice)["next_batch"], sync(bob)["next_batch"]
    resp = receipt(bob, room, ev)
    assert resp.status_code == 200 and resp.json_body == {}
    for client, since in ((alice, a_since), (bob, b_since)):
        got = receipts_in(sync(client, since, timeout=5000), room)
        assert len(got) == 1
        r = got[0][ev]["m.read"][bob.user_id]
        assert isinstance(r["ts"], int) and "thread_id" not in r


def test_initial_sync_shows_current_receipts(alice, bob, room):
    e1 = msg(alice, room)
    e2 = msg(alice, room)
    receipt(bob, room, e1)
    receipt(bob, room, e2)
    got = receipts_in(sync(alice), room)
    assert len(got) == 1 and set(got[0]) == {e2}


def test_private_receipt_only_to_its_owner(alice, bob, room):
    ev = msg(alice, room)
    a_since, b_since = sync(alice)["next_batch"], sync(bob)["next_batch"]
    assert receipt(bob, room, ev, "m.read.private").status_code == 200
    mine = receipts_in(sync(bob, b_since, timeout=5000), room)
    assert mine and bob.user_id in mine[0][ev]["m.read.private"]
    assert receipts_in(sync(alice, a_since, timeout=0), room) == []
    assert receipts_in(sync(alice), room) == []
    assert mine == receipts_in(sync(bob), room)


def test_threaded_receipts(alice, bob, room):
    root = msg(alice, room)
    in_thread = msg(alice, room, {"msgtype": "m.text", "body": "t",
                                  "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    assert receipt(bob, room, in_thread, body={"thread_id": root}).status_code == 200
    assert receipt(bob, room, root, body={"thread_id": "main"}).status_code == 200
    got = receipts_in(sync(bob), room)[0]
    assert got[in_thread]["m.read"][bob.user_id]["thread_id"] == root
    assert got[root]["m.read"][bob.user_id]["thread_id"] == "main"
    # An unthreaded receipt is a separate one: all three coexist.
    assert receipt(bob, room, root).status_code == 200
    got = receipts_in(sync(bob), room)[0]
    assert "thread_id" not in got[root]["m.read"][bob.user_id]
    assert got[in_thread]["m.read"][bob.user_id]["thread_id"] == root


def test_thread_id_errors(alice, bob, room):
    root = msg(alice, room)
    in_thread = msg(alice, room, {"msgtype": "m.text", "body": "t",
                                  "m.relates_to": {"rel_type": "m.thread", "event_id": root}})
    for bad in ("", 5, ["main"]):
        assert_error(receipt(bob, room, root, body={"thread_id": bad}), 400, "M_INVALID_PARAM")
    assert_error(receipt(bob, room, root, body={"thread_id": "elsewhere"}), 400, "M_INVALID_PARAM")
    assert_error(receipt(bob, room, in_thread, body={"thread_id": "main"}), 400, "M_INVALID_PARAM")
    assert_error(receipt(bob, room, root, body={"thread_id": in_thread}), 400, "M_INVALID_PARAM")
    assert_error(receipt(bob, room, root, "m.fully_read", body={"thread_id": "main"}), 400, "M_INVALID_PARAM")


def test_receipt_errors(alice, bob, mx, room):
    ev = msg(alice, room)
    assert_error(receipt(bob, room, ev, "m.seen"), 400, "M_INVALID_PARAM")
    assert_error(receipt(bob, room, "$nope"), 404, "M_NOT_FOUND")
    assert_error(receipt(bob, room, "not-an-event"), 400, "M_INVALID_PARAM")
    other = create_room(alice)
    other_ev = msg(alice, other)
    assert_error(receipt(bob, room, other_ev), 404, "M_NOT_FOUND")       # an event of another room
    assert_error(receipt(bob, other, other_ev), 403, "M_FORBIDDEN")      # not joined
    mx.register("carol")
    assert_error(receipt(mx, room, ev), 403, "M_FORBIDDEN")
    assert_error(receipt(bob, "nope", ev), 400, "M_INVALID_PARAM")
    assert_error(bob.post(f"{API}/rooms/{room}/receipt/m.read/{ev}", token=None), 401, "M_MISSING_TOKEN")
    assert_error(bob.post(f"{API}/rooms/{room}/receipt/m.read/{ev}", raw=b"[]"), 400, "M_BAD_JSON")


def test_receipt_without_body_is_unthreaded(alice, bob, room):
    ev = msg(alice, room)
    resp = bob.request("POST", f"{API}/rooms/{room}/receipt/m.read/{ev}", raw=b"")
    assert resp.status_code == 200
    assert bob.user_id in receipts_in(sync(alice), room)[0][ev]["m.read"]


def test_receipts_only_move_forward(alice, bob, room):
    e1 = msg(alice, room)
    e2 = msg(alice, room)
    receipt(bob, room, e2)
    since = sync(alice)["next_batch"]
    assert receipt(bob, room, e1).status_code == 200
    assert receipts_in(sync(alice, since, timeout=0), room) == []
    assert set(receipts_in(sync(alice), room)[0]) == {e2}


def test_ephemeral_filter_hides_receipts(alice, bob, room):
    ev = msg(alice, room)
    receipt(bob, room, ev)
    assert receipts_in(sync(alice, filter={"room": {"ephemeral": {"not_types": ["m.receipt"]}}}), room) == []
    assert receipts_in(sync(alice, filter={"room": {"ephemeral": {"not_rooms": [room]}}}), room) == []
    assert receipts_in(sync(alice, filter={"room": {"ephemeral": {"limit": 0}}}), room) == []
    assert receipts_in(sync(alice, filter={"room": {"ephemeral": {"types": ["m.receipt"]}}}), room) != []


def _fully_read(body, room_id):
    entry = body["rooms"]["join"].get(room_id)
    return [e["content"] for e in (entry or {}).get("account_data", {}).get("events", []) if e["type"] == "m.fully_read"]


def test_read_markers(alice, bob, room):
    e1 = msg(alice, room)
    e2 = msg(alice, room)
    since = sync(bob)["next_batch"]
    resp = bob.post(f"{API}/rooms/{room}/read_markers", {"m.fully_read": e1, "m.read": e2, "m.read.private": e2})
    assert resp.status_code == 200 and resp.json_body == {}
    body = sync(bob, since, timeout=5000)
    got = receipts_in(body, room)
    assert got and set(got[0][e2]) == {"m.read", "m.read.private"}
    assert _fully_read(sync(bob), room) == [{"event_id": e1}]
    # m.fully_read through the receipt endpoint sets the same marker.
    assert receipt(bob, room, e2, "m.fully_read").status_code == 200
    assert _fully_read(sync(bob), room) == [{"event_id": e2}]
    assert receipts_in(sync(alice), room)[0][e2]["m.read"].keys() == {bob.user_id}
    assert "m.read.private" not in receipts_in(sync(alice), room)[0][e2]


def test_read_markers_errors(alice, bob, room):
    ev = msg(alice, room)
    assert_error(bob.post(f"{API}/rooms/{room}/read_markers", {"m.fully_read": "$nope"}), 404, "M_NOT_FOUND")
    assert_error(bob.post(f"{API}/rooms/{room}/read_markers", {"m.read": 5}), 400, "M_BAD_JSON")
    # Nothing is written when any part is wrong.
    assert_error(bob.post(f"{API}/rooms/{room}/read_markers", {"m.read": ev, "m.fully_read": "$nope"}), 404,
                 "M_NOT_FOUND")
    assert receipts_in(sync(alice), room) == []
    other = create_room(alice)
    assert_error(bob.post(f"{API}/rooms/{other}/read_markers", {"m.read": ev}), 403, "M_FORBIDDEN")
    assert bob.post(f"{API}/rooms/{room}/read_markers", {}).status_code == 200
