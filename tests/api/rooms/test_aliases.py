"""Room aliases: setRoomAlias, getRoomIdByAlias, deleteRoomAlias, getLocalAliases, createRoom's
room_alias_name, joining by alias and m.room.canonical_alias validation."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.api.rooms.helpers import API, create_room
from tests.conftest import assert_error

SERVER = "test.local"


def _path(alias: str) -> str:
    return f"{API}/directory/room/{quote(alias, safe='')}"


def _make_admin(client) -> None:
    from apps.accounts.models import User

    User.objects.filter(localpart=client.user_id[1:].split(":")[0]).update(admin=True)


@pytest.fixture
def room(alice):
    return create_room(alice, preset="public_chat")


# --- setRoomAlias / getRoomIdByAlias -------------------------------------------------------------------

def test_set_then_resolve(alice, bob, mx, room):
    alias = f"#lobby:{SERVER}"
    assert alice.put(_path(alias), {"room_id": room}).status_code == 200
    for client in (alice, mx):  # no access token needed to resolve
        resp = client.get(_path(alias))
        assert resp.status_code == 200, resp.json_body
        assert resp.json_body == {"room_id": room, "servers": [SERVER]}


def test_set_taken_alias_is_409(alice, room):
    alias = f"#lobby:{SERVER}"
    assert alice.put(_path(alias), {"room_id": room}).status_code == 200
    other = create_room(alice)
    assert_error(alice.put(_path(alias), {"room_id": other}), 409, "M_UNKNOWN")
    assert alice.get(_path(alias)).json_body["room_id"] == room


@pytest.mark.parametrize("alias", ["lobby", "#lobby", f"#:{SERVER}", "#lo:bby:bad host", f"#a\x00b:{SERVER}",
                                   "#" + "a" * 250 + f":{SERVER}"])
def test_set_invalid_alias(alice, room, alias):
    assert_error(alice.put(_path(alias), {"room_id": room}), 400, "M_INVALID_PARAM")


def test_set_alias_of_another_server(alice, room):
    assert_error(alice.put(_path("#lobby:elsewhere.example"), {"room_id": room}), 400, "M_INVALID_PARAM")


def test_set_alias_bad_bodies(alice, room):
    path = _path(f"#lobby:{SERVER}")
    assert_error(alice.put(path, {}), 400, "M_MISSING_PARAM")
    assert_error(alice.put(path, {"room_id": 5}), 400, "M_BAD_JSON")
    assert_error(alice.put(path, {"room_id": "not-a-room"}), 400, "M_INVALID_PARAM")
    assert_error(alice.request("PUT", path, raw=b"{nope"), 400, "M_NOT_JSON")
    assert_error(alice.put(path, {"room_id": f"!unknown:{SERVER}"}), 404, "M_NOT_FOUND")
    assert_error(alice.put(path, {"room_id": room}, token=None), 401, "M_MISSING_TOKEN")


def test_set_alias_needs_membership(alice, bob, room):
    assert_error(bob.put(_path(f"#lobby:{SERVER}"), {"room_id": room}), 403, "M_FORBIDDEN")
    _make_admin(bob)
    assert bob.put(_path(f"#lobby:{SERVER}"), {"room_id": room}).status_code == 200


def test_resolve_unknown_and_invalid(mx):
    assert_error(mx.get(_path(f"#nothing:{SERVER}")), 404, "M_NOT_FOUND")
    assert_error(mx.get(_path("nothing")), 400, "M_INVALID_PARAM")


def test_servers_lists_this_server_once(alice, bob, room):
    bob.post(f"{API}/join/{room}")
    alice.put(_path(f"#lobby:{SERVER}"), {"room_id": room})
    assert alice.get(_path(f"#lobby:{SERVER}")).json_body["servers"] == [SERVER]


# --- deleteRoomAlias ---------------------------------------------------------------------------------

def test_creator_deletes(alice, room):
    alias = f"#lobby:{SERVER}"
    alice.put(_path(alias), {"room_id": room})
    assert alice.delete(_path(alias)).status_code == 200
    assert_error(alice.get(_path(alias)), 404, "M_NOT_FOUND")
    assert_error(alice.delete(_path(alias)), 404, "M_NOT_FOUND")


def test_delete_permissions(alice, bob, client_factory, room):
    carol = client_factory()
    carol.register("carol")
    for c in (bob, carol):
        assert c.post(f"{API}/join/{room}").status_code == 200
    alias = f"#bobs:{SERVER}"
    assert bob.put(_path(alias), {"room_id": room}).status_code == 200
    # carol is neither the creator nor a moderator
    assert_error(carol.delete(_path(alias)), 403, "M_FORBIDDEN")
    # alice (the room's admin) may delete bob's alias
    assert alice.delete(_path(alias)).status_code == 200
    # a server admin may delete any alias
    assert bob.put(_path(alias), {"room_id": room}).status_code == 200
    _make_admin(carol)
    assert carol.delete(_path(alias)).status_code == 200


def test_delete_bad_input(alice):
    assert_error(alice.delete(_path("nope")), 400, "M_INVALID_PARAM")
    assert_error(alice.delete(_path("#x:elsewhere.example")), 404, "M_NOT_FOUND")
    assert_error(alice.delete(_path(f"#x:{SERVER}"), token=None), 401, "M_MISSING_TOKEN")


def test_delete_removes_alias_from_canonical_alias(alice, room):
    a, b = f"#a:{SERVER}", f"#b:{SERVER}"
    alice.put(_path(a), {"room_id": room})
    alice.put(_path(b), {"room_id": room})
    assert alice.put(f"{API}/rooms/{room}/state/m.room.canonical_alias",
                     {"alias": a, "alt_aliases": [b]}).status_code == 200
    assert alice.delete(_path(a)).status_code == 200
    content = alice.get(f"{API}/rooms/{room}/state/m.room.canonical_alias").json_body
    assert content == {"alt_aliases": [b]}


# --- getLocalAliases ---------------------------------------------------------------------------------

def test_local_aliases(alice, bob, room):
    assert alice.get(f"{API}/rooms/{room}/aliases").json_body == {"aliases": []}
    alice.put(_path(f"#one:{SERVER}"), {"room_id": room})
    alice.put(_path(f"#two:{SERVER}"), {"room_id": room})
    assert sorted(alice.get(f"{API}/rooms/{room}/aliases").json_body["aliases"]) == [f"#one:{SERVER}",
                                                                                      f"#two:{SERVER}"]
    assert_error(bob.get(f"{API}/rooms/{room}/aliases"), 403, "M_FORBIDDEN")
    alice.put(f"{API}/rooms/{room}/state/m.room.history_visibility", {"history_visibility": "world_readable"})
    assert len(bob.get(f"{API}/rooms/{room}/aliases").json_body["aliases"]) == 2


def test_local_aliases_errors(alice):
    assert_error(alice.get(f"{API}/rooms/not-a-room/aliases"), 400, "M_INVALID_PARAM")
    assert_error(alice.get(f"{API}/rooms/!unknown:{SERVER}/aliases"), 403, "M_FORBIDDEN")
    assert_error(alice.get(f"{API}/rooms/!unknown:{SERVER}/aliases", token=None), 401, "M_MISSING_TOKEN")


# --- createRoom room_alias_name ----------------------------------------------------------------------

def test_create_room_with_alias(alice):
    room = create_room(alice, room_alias_name="pub", preset="public_chat")
    alias = f"#pub:{SERVER}"
    assert alice.get(_path(alias)).json_body["room_id"] == room
    state = alice.get(f"{API}/rooms/{room}/state").json_body
    canonical = next(e for e in state if e["type"] == "m.room.canonical_alias")
    assert canonical["content"] == {"alias": alias}
    # Spec order: create, creator's join, power levels, canonical alias, then the preset's events.
    events = _room_events_in_order(room)
    assert events.index("m.room.power_levels") < events.index("m.room.canonical_alias") < \
        events.index("m.room.join_rules")


def _room_events_in_order(room_id: str) -> list[str]:
    from apps.rooms.models import EventRow

    return list(EventRow.objects.filter(room_id=room_id).order_by("stream_ordering").values_list("type", flat=True))


def test_create_room_alias_in_use(alice, bob):
    create_room(alice, room_alias_name="pub")
    before = bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]
    from apps.rooms.models import Room

    rooms_before = Room.objects.count()
    assert_error(bob.post(f"{API}/createRoom", {"room_alias_name": "pub"}), 400, "M_ROOM_IN_USE")
    assert Room.objects.count() == rooms_before  # checked before creating anything
    assert bob.get(f"{API}/joined_rooms").json_body["joined_rooms"] == before


@pytest.mark.parametrize("name", ["a:b", "", "has space"])
def test_create_room_invalid_alias_name(alice, name):
    assert_error(alice.post(f"{API}/createRoom", {"room_alias_name": name}), 400, "M_INVALID_PARAM")


def test_create_room_alias_name_wrong_type(alice):
    assert_error(alice.post(f"{API}/createRoom", {"room_alias_name": 3}), 400, "M_BAD_JSON")


# --- joining by alias ----------------------------------------------------------------------------------

def test_join_by_alias(alice, bob):
    room = create_room(alice, room_alias_name="pub", preset="public_chat")
    resp = bob.post(f"{API}/join/{quote(f'#pub:{SERVER}', safe='')}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": room}
    assert room in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]


def test_join_by_unknown_alias(bob):
    assert_error(bob.post(f"{API}/join/{quote(f'#nope:{SERVER}', safe='')}"), 404, "M_NOT_FOUND")
    assert_error(bob.post(f"{API}/join/{quote('#nope', safe='')}"), 400, "M_INVALID_PARAM")


# --- m.room.canonical_alias validation -----------------------------------------------------------------

def test_canonical_alias_validation(alice, room):
    path = f"{API}/rooms/{room}/state/m.room.canonical_alias"
    other = create_room(alice)
    alice.put(_path(f"#mine:{SERVER}"), {"room_id": room})
    alice.put(_path(f"#theirs:{SERVER}"), {"room_id": other})
    assert_error(alice.put(path, {"alias": f"#missing:{SERVER}"}), 400, "M_BAD_ALIAS")
    assert_error(alice.put(path, {"alias": f"#theirs:{SERVER}"}), 400, "M_BAD_ALIAS")
    assert_error(alice.put(path, {"alias": "#remote:elsewhere.example"}), 400, "M_BAD_ALIAS")
    assert_error(alice.put(path, {"alt_aliases": [f"#theirs:{SERVER}"]}), 400, "M_BAD_ALIAS")
    assert_error(alice.put(path, {"alias": "not an alias"}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(path, {"alias": 5}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(path, {"alt_aliases": "#mine:test.local"}), 400, "M_INVALID_PARAM")
    assert_error(alice.put(path, {"alt_aliases": [None]}), 400, "M_INVALID_PARAM")
    assert alice.put(path, {"alias": f"#mine:{SERVER}", "alt_aliases": [f"#mine:{SERVER}"]}).status_code == 200
    assert alice.put(path, {}).status_code == 200  # removing is always fine


def test_canonical_alias_keeps_unchanged_aliases(alice, room):
    """An alias deleted after it was listed does not block later edits that keep it."""
    path = f"{API}/rooms/{room}/state/m.room.canonical_alias"
    alice.put(_path(f"#mine:{SERVER}"), {"room_id": room})
    alice.put(_path(f"#alt:{SERVER}"), {"room_id": room})
    assert alice.put(path, {"alias": f"#mine:{SERVER}", "alt_aliases": [f"#alt:{SERVER}"]}).status_code == 200
    from apps.rooms.models import RoomAlias

    RoomAlias.objects.filter(alias=f"#alt:{SERVER}").delete()  # gone without touching the event
    assert alice.put(path, {"alias": f"#mine:{SERVER}", "alt_aliases": [f"#alt:{SERVER}"],
                            "x": 1}).status_code == 200


def test_create_room_initial_state_canonical_alias_is_validated(alice):
    resp = alice.post(f"{API}/createRoom", {"initial_state": [
        {"type": "m.room.canonical_alias", "state_key": "", "content": {"alias": f"#ghost:{SERVER}"}}]})
    assert_error(resp, 400, "M_BAD_ALIAS")
