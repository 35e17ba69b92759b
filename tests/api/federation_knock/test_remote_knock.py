"""A local user knocks on a room hosted by another server (make_knock / send_knock against a fake remote
homeserver on loopback), sees it in /sync under rooms.knock with the state the remote answered, and
rescinds it over federation; failures are clear Matrix errors."""
from __future__ import annotations

import copy
import json
from urllib.parse import parse_qs, quote

import pytest
from django.conf import settings

from apps.core.errors import Codes
from apps.rooms import stores as room_stores
from apps.rooms.event_signing import sign_event
from apps.rooms.room_versions import get_room_version
from tests.api.federation.remote import q
from tests.api.federation_knock.knockable import FED, KnockableRoom
from tests.api.sync.helpers import sync
from tests.conftest import assert_error
from tests.federation_support import json_route, new_signing_key

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"


def knock(client, room, *, via: str | None = None, body: dict | None = None):
    path = f"{API}/knock/{quote(room, safe='')}" + (f"?via={via}" if via else "")
    return client.post(path, body or {})


def knock_state(body, room_id) -> dict:
    """{type: stripped event} of the room's entry under rooms.knock."""
    return {e["type"]: e for e in body["rooms"]["knock"][room_id]["knock_state"]["events"]}


@pytest.mark.parametrize("rv", ["10", "12"])
def test_knock_on_a_remote_room_and_see_it_in_sync(alice, remote_server, rv):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv=rv)
    alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"})
    before = sync(alice)["next_batch"]

    # A v10 room ID names its server; a v12 one does not, the client says where to knock.
    resp = knock(alice, room.room_id, via=remote.server_name if rv == "12" else None, body={"reason": "let me in"})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": room.room_id}
    (query,) = room.make_knock_queries
    assert rv in parse_qs(query)["ver"]
    (sent,) = room.knocks
    assert sent["sender"] == alice.user_id and sent["state_key"] == alice.user_id
    assert sent["content"] == {"membership": "knock", "displayname": "Alice", "reason": "let me in"}
    assert set(sent["signatures"]) == {settings.HS.server_name}

    body = sync(alice, before)
    state = knock_state(body, room.room_id)
    assert state["m.room.name"] == {"type": "m.room.name", "state_key": "", "sender": room.admin,
                                    "content": {"name": "Knock knock"}}
    assert state["m.room.join_rules"]["content"] == {"join_rule": "knock"}
    assert state["m.room.create"]["content"]["room_version"] == rv
    member = state["m.room.member"]
    assert member["state_key"] == alice.user_id and member["content"]["membership"] == "knock"
    assert room.room_id not in body["rooms"]["join"]
    # An initial sync shows it too, and the membership is recorded.
    assert room.room_id in sync(alice)["rooms"]["knock"]
    assert room_stores.membership_of(room.room_id, alice.user_id)[0] == "knock"


def test_knock_by_remote_alias(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="12")
    server.routes[f"{FED}/v1/query/directory"] = json_route({"room_id": room.room_id, "servers": [remote.server_name]})
    resp = knock(alice, f"#door:{remote.server_name}")
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": room.room_id}
    assert len(room.knocks) == 1
    assert room.room_id in sync(alice)["rooms"]["knock"]
    # An alias its server does not know.
    server.routes[f"{FED}/v1/query/directory"] = json_route({"errcode": "M_NOT_FOUND", "error": "no"}, 404)
    assert_error(knock(alice, f"#nowhere:{remote.server_name}"), 404, Codes.NOT_FOUND)


def test_knock_room_state_that_fails_the_checks_is_dropped(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="12")
    forged = copy.deepcopy(room.name.get_pdu_json())
    forged["content"] = {"name": "Forged"}  # the content hash and signature no longer match
    other_room = remote.event("!elsewhere:x", room.admin, "m.room.topic", {"topic": "other"}, prev=[], auth=[],
                              depth=3, room_version="12", state_key="")
    impostor = sign_event({"type": "m.room.topic", "room_id": room.room_id, "sender": room.admin, "state_key": "",
                           "content": {"topic": "signed by another key"}, "origin_server_ts": 1, "depth": 6,
                           "prev_events": [room.name.event_id], "auth_events": [room.pl.event_id]},
                          get_room_version("12"), remote.server_name, new_signing_key(remote.key.version))
    room.knock_state = lambda: [room.create.get_pdu_json(), room.jr.get_pdu_json(), forged, impostor,
                                other_room.get_pdu_json(), {"type": "m.room.avatar"}, "junk"]
    resp = knock(alice, room.room_id, via=remote.server_name)
    assert resp.status_code == 200, resp.json_body
    state = knock_state(sync(alice), room.room_id)
    assert set(state) == {"m.room.create", "m.room.join_rules", "m.room.member"}


def test_stripped_knock_room_state_of_older_servers_is_shown(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="10")
    # Before spec 1.16 servers answered bare stripped state events.
    room.knock_state = lambda: [{"type": "m.room.name", "state_key": "", "sender": room.admin,
                                 "content": {"name": "Old style"}}]
    assert knock(alice, room.room_id).status_code == 200
    state = knock_state(sync(alice), room.room_id)
    assert state["m.room.name"]["content"] == {"name": "Old style"}


def test_a_knock_answered_without_room_state_still_stands(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="10")
    server.routes[f"{FED}/v1/send_knock/"] = json_route({})
    assert knock(alice, room.room_id).status_code == 200
    assert set(knock_state(sync(alice), room.room_id)) == {"m.room.member"}


def test_remote_refusals_are_passed_on(alice, remote_server):
    server, remote = remote_server
    room_id = f"!closed:{remote.server_name}"
    server.routes[f"{FED}/v1/make_knock/"] = json_route({"errcode": "M_FORBIDDEN", "error": "no knocking"}, 403)
    assert_error(knock(alice, room_id), 403, Codes.FORBIDDEN)
    server.routes[f"{FED}/v1/make_knock/"] = json_route(
        {"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "error": "no", "room_version": "99"}, 400)
    assert_error(knock(alice, room_id), 400, "M_INCOMPATIBLE_ROOM_VERSION")
    server.routes[f"{FED}/v1/make_knock/"] = json_route({"errcode": "M_NOT_FOUND", "error": "Unknown room"}, 404)
    assert_error(knock(alice, room_id), 404, Codes.NOT_FOUND)
    assert room_stores.membership_of(room_id, alice.user_id) is None


def test_a_room_version_without_knocking_is_refused_here(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="10")
    made = room.make_knock

    def make_knock_v6(rec):
        status, headers, body = made(rec)
        return status, headers, {**body, "room_version": "6"}

    server.routes[f"{FED}/v1/make_knock/"] = make_knock_v6
    body = assert_error(knock(alice, room.room_id), 403, Codes.FORBIDDEN)
    assert "knocking" in body["error"]
    assert not room.knocks
    # A template that is not a knock of this user is an unusable answer.
    server.routes[f"{FED}/v1/make_knock/"] = json_route({"event": {"type": "m.room.member"}, "room_version": "10"})
    assert_error(knock(alice, room.room_id), 502, Codes.UNKNOWN)
    assert room_stores.membership_of(room.room_id, alice.user_id) is None


def test_send_knock_refused(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="10")
    server.routes[f"{FED}/v1/send_knock/"] = json_route({"errcode": "M_FORBIDDEN", "error": "You are banned"}, 403)
    body = assert_error(knock(alice, room.room_id), 403, Codes.FORBIDDEN)
    assert body["error"] == "You are banned"
    assert room_stores.membership_of(room.room_id, alice.user_id) is None


def test_unreachable_server_is_a_clear_error(alice, remote_server):
    server, _ = remote_server
    dead = server.server_name
    server.close()
    assert_error(knock(alice, f"!gone:{dead}"), 502, Codes.UNKNOWN)
    # A v12-style room ID with no server to ask.
    assert_error(knock(alice, "!nowheretoknock"), 404, Codes.NOT_FOUND)


def test_rescinding_a_remote_knock_goes_through_the_room(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="12")
    assert knock(alice, room.room_id, via=remote.server_name).status_code == 200
    since = sync(alice)["next_batch"]

    resp = alice.post(f"{API}/rooms/{q(room.room_id)}/leave", {"reason": "never mind"})
    assert resp.status_code == 200, resp.json_body
    (leave,) = room.leaves
    assert leave["sender"] == alice.user_id and leave["content"] == {"membership": "leave", "reason": "never mind"}
    assert set(leave["signatures"]) == {settings.HS.server_name}
    assert leave["prev_events"] == [room.tip.event_id]  # after our knock, in the remote's room
    assert room_stores.membership_of(room.room_id, alice.user_id)[0] == "leave"
    body = sync(alice, since)
    assert room.room_id in body["rooms"]["leave"]
    assert room.room_id not in body["rooms"]["knock"]
    (ev,) = body["rooms"]["leave"][room.room_id]["timeline"]["events"]
    assert ev["content"]["membership"] == "leave"

    # Knocking again is a new handshake.
    assert knock(alice, room.room_id, via=remote.server_name).status_code == 200
    assert len(room.knocks) == 2
    assert room_stores.membership_of(room.room_id, alice.user_id)[0] == "knock"


def test_rescinding_when_the_room_cannot_be_reached_is_local(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="10")
    assert knock(alice, room.room_id).status_code == 200
    since = sync(alice)["next_batch"]
    server.close()
    resp = alice.post(f"{API}/rooms/{q(room.room_id)}/leave", {})
    assert resp.status_code == 200, resp.json_body
    assert room_stores.membership_of(room.room_id, alice.user_id)[0] == "leave"
    assert room.room_id in sync(alice, since)["rooms"]["leave"]


def test_an_invite_after_a_knock_replaces_it(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="12")
    assert knock(alice, room.room_id, via=remote.server_name).status_code == 200
    since = sync(alice)["next_batch"]
    # The admin accepts the knock: an invite, sent to this server.
    invite = remote.event(room.room_id, room.admin, "m.room.member", {"membership": "invite"}, state_key=alice.user_id,
                          prev=[room.tip.event_id], auth=[room.pl.event_id, room.tip.event_id],
                          depth=room.tip.depth + 1, room_version="12")
    resp = remote.put(f"{FED}/v2/invite/{q(room.room_id)}/{q(invite.event_id)}",
                      {"room_version": "12", "event": invite.get_pdu_json(),
                       "invite_room_state": [room.create.get_pdu_json(), room.name.get_pdu_json()]})
    assert resp.status_code == 200, resp.json_body
    body = sync(alice, since)
    assert room.room_id in body["rooms"]["invite"]
    assert room.room_id not in body["rooms"]["knock"]
    # Knocking while invited is refused: the client should join instead.
    assert_error(knock(alice, room.room_id, via=remote.server_name), 403, Codes.FORBIDDEN)
    assert len(room.knocks) == 1


def test_knock_requests_are_signed_by_this_server(alice, remote_server):
    server, remote = remote_server
    room = KnockableRoom(server, remote, rv="10")
    assert knock(alice, room.room_id).status_code == 200
    knock_requests = [r for r in server.requests if "/make_knock/" in r.path or "/send_knock/" in r.path]
    assert [r.method for r in knock_requests] == ["GET", "PUT"]
    for r in knock_requests:
        assert r.headers["authorization"].startswith(f'X-Matrix origin="{settings.HS.server_name}"')
    assert json.loads(knock_requests[1].body)["type"] == "m.room.member"
