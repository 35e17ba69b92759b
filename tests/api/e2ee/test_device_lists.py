"""Device-list tracking: `device_lists`, `device_one_time_keys_count` and
`device_unused_fallback_key_types` in /sync, GET /keys/changes, and long-polls woken by a device change
of a user sharing a room (client-server API, end-to-end encryption, "Tracking the device list for a user",
"Extensions to /sync")."""
from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import sync
from tests.conftest import MatrixClient, assert_error

from tests.api.e2ee.helpers import API, login, one_time_keys, setup_device, upload

pytestmark = pytest.mark.django_db(transaction=True)

ENCRYPTION = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}


def _encrypted_room(alice, bob) -> str:
    room_id = create_room(alice, preset="public_chat", initial_state=[ENCRYPTION])
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    return room_id


def _lists(body) -> tuple[list, list]:
    return body["device_lists"]["changed"], body["device_lists"]["left"]


def test_two_users_in_an_encrypted_room(alice, bob):
    """Upload, query each other, claim, and see the counts and device lists move in /sync."""
    room_id = _encrypted_room(alice, bob)
    a_since = sync(alice)["next_batch"]
    akey = setup_device(alice, n_otks=3, fallback=True)
    bkey = setup_device(bob, n_otks=2)

    body = sync(alice, a_since)
    assert body["device_one_time_keys_count"] == {"signed_curve25519": 3}
    assert body["device_unused_fallback_key_types"] == ["signed_curve25519"]
    assert _lists(body) == ([alice.user_id, bob.user_id], [])
    a_since = body["next_batch"]
    b_since = sync(bob)["next_batch"]

    for me, other in ((alice, bob), (bob, alice)):
        got = me.post(f"{API}/keys/query", {"device_keys": {other.user_id: []}}).json_body
        assert list(got["device_keys"][other.user_id]) == [other.device_id]
    got = alice.post(f"{API}/keys/claim", {"one_time_keys": {bob.user_id: {bob.device_id: "signed_curve25519"}}})
    assert list(got.json_body["one_time_keys"][bob.user_id][bob.device_id]) == ["signed_curve25519:K0000"]
    assert sync(bob, b_since)["device_one_time_keys_count"] == {"signed_curve25519": 1}

    # Nothing changed for alice's device lists: an empty incremental sync.
    assert _lists(sync(alice, a_since)) == ([], [])
    assert akey and bkey


def test_device_lists_only_for_users_sharing_a_room(alice, bob, client_factory):
    carol = client_factory()
    carol.register("carol")
    room_id = _encrypted_room(alice, bob)
    since = sync(alice)["next_batch"]
    setup_device(carol)
    setup_device(bob)
    assert _lists(sync(alice, since)) == ([bob.user_id], [])
    # A new device of bob's (a login) is a change too.
    since = sync(alice)["next_batch"]
    bob2 = login(client_factory, bob)
    assert _lists(sync(alice, since)) == ([bob.user_id], [])
    # Logging in again as that device under a new name renames it: a change too.
    since = sync(alice)["next_batch"]
    resp = client_factory().post(f"{API}/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": bob.user_id},
        "password": "correct horse battery", "device_id": bob2.device_id,
        "initial_device_display_name": "renamed"}, token=None)
    assert resp.status_code == 200, resp.json_body
    assert _lists(sync(alice, since)) == ([bob.user_id], [])
    assert room_id


def test_join_and_leave_move_device_lists(alice, bob):
    room_id = create_room(alice, preset="public_chat", initial_state=[ENCRYPTION])
    since = sync(alice)["next_batch"]
    assert bob.post(f"{API}/rooms/{room_id}/join").status_code == 200
    body = sync(alice, since)
    assert _lists(body) == ([bob.user_id], [])
    since = body["next_batch"]
    b_since = sync(bob)["next_batch"]
    assert bob.post(f"{API}/rooms/{room_id}/leave").status_code == 200
    assert _lists(sync(alice, since)) == ([], [bob.user_id])
    assert _lists(sync(bob, b_since)) == ([], [alice.user_id])


def test_leaving_one_of_two_shared_rooms_is_not_left(alice, bob):
    r1 = _encrypted_room(alice, bob)
    _encrypted_room(alice, bob)
    since = sync(alice)["next_batch"]
    assert bob.post(f"{API}/rooms/{r1}/leave").status_code == 200
    assert _lists(sync(alice, since)) == ([], [])


def test_deleting_a_device_is_a_change(alice, bob, client_factory):
    _encrypted_room(alice, bob)
    bob2 = login(client_factory, bob)
    setup_device(bob2)
    since = sync(alice)["next_batch"]
    assert bob2.post(f"{API}/logout").status_code == 200
    assert _lists(sync(alice, since)) == ([bob.user_id], [])


def test_renaming_a_device_is_a_change(alice, bob):
    _encrypted_room(alice, bob)
    since = sync(alice)["next_batch"]
    assert bob.put(f"{API}/devices/{bob.device_id}", {"display_name": "renamed"}).status_code == 200
    assert _lists(sync(alice, since)) == ([bob.user_id], [])


def test_long_poll_woken_by_a_device_change(alice, bob):
    _encrypted_room(alice, bob)
    since = sync(alice)["next_batch"]
    out: dict = {}

    def run():
        c = MatrixClient()
        c.token, c.user_id, c.device_id = alice.token, alice.user_id, alice.device_id
        try:
            started = time.monotonic()
            out["body"] = sync(c, since, timeout=20_000)
            out["elapsed"] = time.monotonic() - started
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), out
    setup_device(bob)
    t.join(5)
    assert not t.is_alive(), "the device change did not wake the long-poll"
    assert _lists(out["body"]) == ([bob.user_id], []) and out["elapsed"] < 5


def test_counts_on_initial_sync_and_without_keys(alice):
    body = sync(alice)
    assert body["device_one_time_keys_count"] == {"signed_curve25519": 0}
    assert body["device_unused_fallback_key_types"] == []
    assert body["device_lists"] == {"changed": [], "left": []}
    key = setup_device(alice)
    upload(alice, {"one_time_keys": one_time_keys(alice, key, 4)})
    assert sync(alice)["device_one_time_keys_count"] == {"signed_curve25519": 4}


def test_keys_changes(alice, bob):
    _encrypted_room(alice, bob)
    start = sync(alice)["next_batch"]
    setup_device(bob)
    end = sync(alice)["next_batch"]
    resp = alice.get(f"{API}/keys/changes?from={start}&to={end}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"changed": [bob.user_id], "left": []}
    resp = alice.get(f"{API}/keys/changes?from={end}&to={end}")
    assert resp.json_body == {"changed": [], "left": []}


@pytest.mark.parametrize("query, errcode", [
    ("", "M_MISSING_PARAM"), ("?from=s1", "M_MISSING_PARAM"), ("?from=garbage&to=s1", "M_INVALID_PARAM"),
])
def test_keys_changes_bad_input(alice, query, errcode):
    assert_error(alice.get(f"{API}/keys/changes{query}"), 400, errcode)


def test_sync_section_query_count(alice, bob, django_assert_max_num_queries):
    """The e2ee part of an incremental /sync costs a bounded number of queries, however many rooms and
    changes there are."""
    for _ in range(3):
        _encrypted_room(alice, bob)
    carol = MatrixClient()
    carol.register("carol")
    since = sync(alice)["next_batch"]
    setup_device(bob)
    setup_device(carol)
    for _ in range(3):  # alice joins three rooms of carol's, carol one of alice's, a room is left
        _encrypted_room(carol, alice)
    _encrypted_room(alice, carol)
    left = _encrypted_room(alice, bob)
    assert bob.post(f"{API}/rooms/{left}/leave").status_code == 200
    from apps.e2ee import device_lists
    from apps.streams import replication
    from apps.streams.tokens import StreamToken
    from apps.sync.handlers import current_token

    since_token = StreamToken.parse(since)
    now = current_token(replication.get_state())
    with django_assert_max_num_queries(7):
        assert device_lists.changes_between(alice.user_id, since_token, now) == \
            (sorted([bob.user_id, carol.user_id]), [])


def test_stream_rows_read_back_for_catch_up(alice, bob, client_factory):
    """A process that missed live messages reads the same rows back (apps.streams.registry contract):
    pages never split a position, and each row names the rooms whose members it concerns."""
    from apps.streams import registry, replication

    room_id = _encrypted_room(alice, bob)
    start = replication.persisted_up_to("device_lists")
    setup_device(bob)
    login(client_factory, bob)
    alice.post(f"{API}/logout")
    end = replication.persisted_up_to("device_lists")
    fetch = registry.get("device_lists").fetch_rows
    rows = fetch(start, end, 100)
    assert [(r["user_id"], r["room_ids"]) for _, r in rows] == \
        [(bob.user_id, [room_id])] * 2 + [(alice.user_id, [room_id])]
    assert all(start < p <= end for p, _ in rows) and [p for p, _ in rows] == sorted(p for p, _ in rows)
    paged, pos = [], start
    while True:
        page = fetch(pos, end, 1)
        paged += page
        if len(page) < 1:
            break
        pos = page[-1][0]
    assert paged == rows
    keys = registry.get("device_lists").notify_keys(rows[0][1])
    assert keys.user_ids == (bob.user_id,) and keys.room_ids == (room_id,)


def test_keys_query_query_count(alice, client_factory, django_assert_max_num_queries):
    users = [alice]
    for name in ("carol", "dave", "erin"):
        c = client_factory()
        c.register(name)
        setup_device(c)
        login(client_factory, c)
        users.append(c)
    body = {"device_keys": {u.user_id: [] for u in users}}
    with django_assert_max_num_queries(8):  # authentication included; none per user or device
        resp = alice.post(f"{API}/keys/query", body)
    assert resp.status_code == 200
    assert all(len(resp.json_body["device_keys"][u.user_id]) == 1 for u in users[1:])
