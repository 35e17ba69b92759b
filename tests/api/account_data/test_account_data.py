"""getAccountData, setAccountData, getAccountDataPerRoom, setAccountDataPerRoom, and their /sync sections."""
from __future__ import annotations

import pytest

from tests.api.rooms.helpers import create_room
from tests.api.sync.helpers import API, sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)


def _global(client, data_type="org.example.config", user_id=None):
    return f"{API}/user/{user_id or client.user_id}/account_data/{data_type}"


def _room(client, room_id, data_type="org.example.room", user_id=None):
    return f"{API}/user/{user_id or client.user_id}/rooms/{room_id}/account_data/{data_type}"


def test_global_round_trip_and_overwrite(alice):
    assert alice.put(_global(alice), {"a": 1}).json_body == {}
    assert alice.get(_global(alice)).json_body == {"a": 1}
    assert alice.put(_global(alice), {"b": [1, 2]}).status_code == 200
    assert alice.get(_global(alice)).json_body == {"b": [1, 2]}


def test_room_data_is_separate_from_global(alice):
    room_id = create_room(alice)
    alice.put(_room(alice, room_id, "org.example.x"), {"room": True})
    assert alice.get(_room(alice, room_id, "org.example.x")).json_body == {"room": True}
    # No inheritance either way (spec, "Client Config").
    assert_error(alice.get(_global(alice, "org.example.x")), 404, "M_NOT_FOUND")
    alice.put(_global(alice, "org.example.y"), {"global": True})
    assert_error(alice.get(_room(alice, room_id, "org.example.y")), 404, "M_NOT_FOUND")


def test_missing_is_not_found(alice):
    assert_error(alice.get(_global(alice, "org.example.none")), 404, "M_NOT_FOUND")
    assert_error(alice.get(_room(alice, "!nowhere:test.local")), 404, "M_NOT_FOUND")


def test_other_users_data_is_forbidden(alice, bob):
    alice.put(_global(alice), {"secret": 1})
    assert_error(bob.get(_global(bob, user_id=alice.user_id)), 403, "M_FORBIDDEN")
    assert_error(bob.put(_global(bob, user_id=alice.user_id), {"x": 1}), 403, "M_FORBIDDEN")
    room_id = create_room(alice)
    assert_error(bob.put(_room(bob, room_id, user_id=alice.user_id), {"x": 1}), 403, "M_FORBIDDEN")
    assert_error(bob.get(_room(bob, room_id, user_id=alice.user_id)), 403, "M_FORBIDDEN")
    assert alice.get(_global(alice)).json_body == {"secret": 1}


@pytest.mark.parametrize("data_type", ["m.fully_read", "m.push_rules"])
def test_server_managed_types_are_refused(alice, data_type):
    room_id = create_room(alice)
    assert_error(alice.put(_global(alice, data_type), {"event_id": "$x"}), 405, "M_BAD_JSON")
    assert_error(alice.put(_room(alice, room_id, data_type), {"event_id": "$x"}), 405, "M_BAD_JSON")


def test_server_written_fully_read_is_readable(alice):
    from apps.account_data.handlers import write_server_account_data

    room_id = create_room(alice)
    write_server_account_data(alice.user_id, room_id, "m.fully_read", {"event_id": "$e"})
    assert alice.get(_room(alice, room_id, "m.fully_read")).json_body == {"event_id": "$e"}


def test_bad_bodies_and_room_ids(alice):
    assert_error(alice.put(_global(alice), raw=b"not json"), 400, "M_NOT_JSON")
    assert_error(alice.put(_global(alice), [1, 2]), 400, "M_BAD_JSON")
    assert_error(alice.put(_global(alice), raw=b""), 400, "M_NOT_JSON")
    assert_error(alice.put(_room(alice, "@notaroom:test.local"), {"a": 1}), 400, "M_INVALID_PARAM")
    assert_error(alice.get(_room(alice, "notaroom")), 400, "M_INVALID_PARAM")


def test_needs_a_token(mx, alice):
    assert_error(mx.get(_global(alice), token=None), 401, "M_MISSING_TOKEN")


# --- /sync ---------------------------------------------------------------------------------------

def _events(section):
    # m.push_rules is the push app's own account data event (apps.push), sent on initial syncs.
    return {e["type"]: e["content"] for e in section["events"] if e["type"] != "m.push_rules"}


def test_initial_sync_has_everything_incremental_only_changes(alice):
    room_id = create_room(alice)
    alice.put(_global(alice, "org.example.a"), {"v": 1})
    alice.put(_room(alice, room_id, "org.example.r"), {"v": 2})
    first = sync(alice)
    assert _events(first["account_data"]) == {"org.example.a": {"v": 1}}
    assert _events(first["rooms"]["join"][room_id]["account_data"]) == {"org.example.r": {"v": 2}}

    alice.put(_global(alice, "org.example.b"), {"v": 3})
    second = sync(alice, first["next_batch"])
    assert _events(second["account_data"]) == {"org.example.b": {"v": 3}}
    assert room_id not in second["rooms"]["join"]

    alice.put(_room(alice, room_id, "org.example.r"), {"v": 4})
    third = sync(alice, second["next_batch"])
    assert third["account_data"]["events"] == []
    assert _events(third["rooms"]["join"][room_id]["account_data"]) == {"org.example.r": {"v": 4}}
    assert third["rooms"]["join"][room_id]["timeline"]["events"] == []

    fourth = sync(alice, third["next_batch"])
    assert fourth["account_data"]["events"] == [] and room_id not in fourth["rooms"]["join"]


def test_another_users_change_is_not_seen(alice, bob):
    since = sync(bob)["next_batch"]
    alice.put(_global(alice, "org.example.a"), {"v": 1})
    assert sync(bob, since)["account_data"]["events"] == []


def test_filters_apply(alice):
    room_id = create_room(alice)
    other = create_room(alice)
    alice.put(_global(alice, "org.example.keep"), {})
    alice.put(_global(alice, "org.example.drop"), {})
    alice.put(_room(alice, room_id, "org.example.keep"), {})
    alice.put(_room(alice, other, "org.example.keep"), {})
    body = sync(alice, filter={"account_data": {"not_types": ["*.drop"]},
                               "room": {"account_data": {"not_rooms": [other]}}})
    assert list(_events(body["account_data"])) == ["org.example.keep"]
    assert _events(body["rooms"]["join"][room_id]["account_data"]) == {"org.example.keep": {}}
    assert body["rooms"]["join"].get(other, {}).get("account_data", {"events": []})["events"] == []
    none = sync(alice, filter={"account_data": {"types": []}, "room": {"account_data": {"types": []}}})
    assert none["account_data"]["events"] == []
    assert none["rooms"]["join"][room_id]["account_data"]["events"] == []


def test_a_long_poll_wakes_on_account_data(alice):
    import threading
    import time

    since = sync(alice)["next_batch"]
    result = {}

    def poll():
        from tests.conftest import MatrixClient
        c = MatrixClient()
        c.token = alice.token
        result["body"] = sync(c, since, timeout=5000)
    t = threading.Thread(target=poll)
    started = time.monotonic()
    t.start()
    time.sleep(0.3)
    alice.put(_global(alice, "org.example.wake"), {"w": 1})
    t.join(10)
    assert _events(result["body"]["account_data"]) == {"org.example.wake": {"w": 1}}
    assert time.monotonic() - started < 4


def test_push_rules_read_as_account_data(alice):
    got = alice.get(_global(alice, "m.push_rules"))
    assert got.status_code == 200, got.json_body
    assert "global" in got.json_body and "override" in got.json_body["global"]
