"""PUT /_matrix/federation/v2/invite/{roomId}/{eventId}: a remote server invites a local user. We check
and co-sign the invite; for a room we are not in it becomes an out-of-band membership that the
invitee's /sync shows under rooms.invite with the stripped state the inviting server sent."""
from __future__ import annotations

import time

import pytest

from apps.rooms import stores as room_stores
from tests.api.federation.remote import FED, FakeRemote, q
from tests.api.rooms.helpers import API, create_room
from tests.api.sync.helpers import sync
from tests.conftest import assert_error

pytestmark = pytest.mark.django_db(transaction=True)

ROOM = "!faraway:remote.test"


@pytest.fixture
def remote(db):
    return FakeRemote("remote.test")


def invite_event(remote, invitee, *, room_id=ROOM, room_version="10", sender=None):
    """An invite as the remote room would hold it (its auth events are the remote's business)."""
    sender = sender or remote.user("bob")
    return remote.event(room_id, sender, "m.room.member", {"membership": "invite"}, state_key=invitee,
                        prev=["$prev"], auth=["$create", "$pl", "$bobjoin"], depth=7, room_version=room_version)


def invite_state(remote):
    return [{"type": "m.room.name", "state_key": "", "sender": remote.user("bob"), "content": {"name": "Far away"},
             "room_id": ROOM, "origin_server_ts": int(time.time() * 1000), "depth": 3, "prev_events": [],
             "auth_events": [], "hashes": {"sha256": "x"}, "signatures": {}},
            {"type": "m.room.join_rules", "state_key": "", "sender": remote.user("bob"),
             "content": {"join_rule": "invite"}}]


def put_invite(remote, event, room_version="10", state=None, room_id=ROOM):
    return remote.put(f"{FED}/v2/invite/{q(room_id)}/{q(event.event_id)}",
                      {"room_version": room_version, "event": event.get_pdu_json(),
                       "invite_room_state": state if state is not None else invite_state(remote)})


def test_invite_reaches_the_invitees_sync(alice, remote):
    first = sync(alice)
    event = invite_event(remote, alice.user_id)
    resp = put_invite(remote, event)
    assert resp.status_code == 200, resp.json_body
    signed = resp.json_body["event"]
    assert set(signed["signatures"]) == {"remote.test", "test.local"}
    assert signed["content"] == {"membership": "invite"}

    later = sync(alice, first["next_batch"])
    invited = later["rooms"]["invite"][ROOM]["invite_state"]["events"]
    by_type = {e["type"]: e for e in invited}
    assert by_type["m.room.name"]["content"] == {"name": "Far away"}
    assert set(by_type["m.room.name"]) == {"type", "state_key", "content", "sender"}  # stripped for clients
    assert by_type["m.room.member"]["state_key"] == alice.user_id
    assert by_type["m.room.member"]["sender"] == remote.user("bob")
    assert ROOM not in later["rooms"]["join"]
    # An initial sync shows it too.
    assert ROOM in sync(alice)["rooms"]["invite"]


def test_invite_with_a_forged_signature_is_refused(alice, remote):
    event = invite_event(remote, alice.user_id)
    pdu = event.get_pdu_json()
    key_id = next(iter(pdu["signatures"]["remote.test"]))
    pdu["signatures"]["remote.test"][key_id] = "A" * 86
    resp = remote.put(f"{FED}/v2/invite/{q(ROOM)}/{q(event.event_id)}",
                      {"room_version": "10", "event": pdu, "invite_room_state": []})
    assert_error(resp, 400, "M_INVALID_PARAM")
    assert ROOM not in sync(alice)["rooms"]["invite"]


def test_invite_sent_by_another_server_is_refused(alice, remote):
    other = FakeRemote("other.test")
    event = invite_event(other, alice.user_id)
    assert_error(put_invite(remote, event), 400, "M_INVALID_PARAM")


def test_invite_of_an_unknown_user_is_refused(remote, db):
    event = invite_event(remote, "@nobody:test.local")
    assert_error(put_invite(remote, event), 400, "M_INVALID_PARAM")
    event = invite_event(remote, "@someone:elsewhere.test")
    assert_error(put_invite(remote, event), 400, "M_INVALID_PARAM")


def test_invite_bad_requests(alice, remote):
    event = invite_event(remote, alice.user_id)
    resp = remote.put(f"{FED}/v2/invite/{q(ROOM)}/{q(event.event_id)}",
                      {"room_version": "999", "event": event.get_pdu_json()})
    assert assert_error(resp, 400, "M_INCOMPATIBLE_ROOM_VERSION")["room_version"] == "999"
    resp = remote.put(f"{FED}/v2/invite/{q(ROOM)}/{q(event.event_id)}", {"event": event.get_pdu_json()})
    assert_error(resp, 400, "M_MISSING_PARAM")
    resp = remote.put(f"{FED}/v2/invite/{q(ROOM)}/$other", {"room_version": "10", "event": event.get_pdu_json()})
    assert_error(resp, 400, "M_INVALID_PARAM")
    assert_error(put_invite(remote, event, state="nope"), 400, "M_INVALID_PARAM")
    not_invite = remote.event(ROOM, remote.user("bob"), "m.room.member", {"membership": "join"},
                              state_key=alice.user_id, prev=[], auth=[], depth=3, room_version="10")
    assert_error(put_invite(remote, not_invite), 400, "M_INVALID_PARAM")


def test_invite_into_a_local_room_goes_through_the_pipeline(alice, remote):
    room_id = create_room(alice, preset="public_chat")
    bob = remote.user("bob")
    join, body = remote.join(room_id, bob)
    # alice lets anyone invite; bob (remote) invites a second local user.
    carol_client = type(alice)()
    carol_client.register("carol")
    from tests.api.federation.remote import state_after_join
    state = state_after_join(body, join)
    auth = [state[k] for k in (("m.room.power_levels", ""), ("m.room.member", bob), ("m.room.join_rules", ""))]
    event = remote.event(room_id, bob, "m.room.member", {"membership": "invite"}, state_key=carol_client.user_id,
                         prev=[join.event_id], auth=auth, depth=join.depth + 1, room_version="12")
    resp = put_invite(remote, event, room_version="12", room_id=room_id, state=[])
    # public_chat: invite level 50, bob has 0: the rules reject the invite.
    assert_error(resp, 403, "M_FORBIDDEN")
    assert room_stores.membership_of(room_id, carol_client.user_id) is None
    resp = alice.put(f"{API}/rooms/{room_id}/state/m.room.power_levels/",
                     {**alice.get(f"{API}/rooms/{room_id}/state/m.room.power_levels/").json_body, "invite": 0})
    assert resp.status_code == 200, resp.json_body
    pl = resp.json_body["event_id"]
    event = remote.event(room_id, bob, "m.room.member", {"membership": "invite"}, state_key=carol_client.user_id,
                         prev=[pl], auth=[pl, state[("m.room.member", bob)], state[("m.room.join_rules", "")]],
                         depth=join.depth + 3, room_version="12")
    resp = put_invite(remote, event, room_version="12", room_id=room_id, state=[])
    assert resp.status_code == 200, resp.json_body
    assert room_stores.membership_of(room_id, carol_client.user_id)[0] == "invite"
    assert room_id in sync(carol_client)["rooms"]["invite"]


def test_v12_invite_room_state_is_validated(alice, remote):
    room = "!v12room"  # v12 room IDs name the create event
    bob = remote.user("bob")
    create = remote.event(room, bob, "m.room.create", {"room_version": "12"}, state_key="", prev=[], auth=[],
                          depth=1, room_version="12")
    room = create.room_id
    name = remote.event(room, bob, "m.room.name", {"name": "Twelve"}, state_key="", prev=[create.event_id],
                        auth=[], depth=2, room_version="12")
    invite = invite_event(remote, alice.user_id, room_id=room, room_version="12")
    good = [create.get_pdu_json(), name.get_pdu_json()]
    # Without the create event, with a stripped (not event-formatted) entry, with a forged entry: refused.
    assert_error(put_invite(remote, invite, "12", state=[name.get_pdu_json()], room_id=room), 400,
                 "M_INVALID_PARAM")
    stripped = {"type": "m.room.name", "state_key": "", "sender": bob, "content": {"name": "x"}}
    assert_error(put_invite(remote, invite, "12", state=[*good, stripped], room_id=room), 400, "M_INVALID_PARAM")
    forged = name.get_pdu_json()
    forged["signatures"] = {"remote.test": {next(iter(forged["signatures"]["remote.test"])): "A" * 86}}
    assert_error(put_invite(remote, invite, "12", state=[create.get_pdu_json(), forged], room_id=room), 400,
                 "M_INVALID_PARAM")
    resp = put_invite(remote, invite, "12", state=good, room_id=room)
    assert resp.status_code == 200, resp.json_body
    shown = sync(alice)["rooms"]["invite"][room]["invite_state"]["events"]
    assert [e["type"] for e in shown] == ["m.room.create", "m.room.name", "m.room.member"]


def test_v1_invite(alice, remote):
    room = "!old:remote.test"
    event = remote.event(room, remote.user("bob"), "m.room.member", {"membership": "invite"},
                         state_key=alice.user_id, prev=[], auth=[], depth=4, room_version="1")
    pdu = event.get_pdu_json()
    assert pdu["event_id"].endswith(":remote.test")  # v1 events carry their ID
    pdu["unsigned"] = {"invite_room_state": [{"type": "m.room.name", "state_key": "", "sender": remote.user("bob"),
                                              "content": {"name": "Old times"}}]}
    resp = remote.put(f"{FED}/v1/invite/{q(room)}/{q(event.event_id)}", pdu)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body[0] == 200 and "test.local" in resp.json_body[1]["event"]["signatures"]
    shown = sync(alice)["rooms"]["invite"][room]["invite_state"]["events"]
    assert shown[0]["content"] == {"name": "Old times"}


def test_rejecting_a_remote_invite_goes_through_the_inviting_server(alice, tls_server):
    import json
    from urllib.parse import quote

    from apps.federation import keyring
    from apps.rooms.event_signing import verify_event_signatures
    from apps.rooms.room_versions import get_room_version

    from tests.federation_support import PrefixRoutes

    server = tls_server()
    server.routes = PrefixRoutes()
    remote = FakeRemote(server.server_name)
    room = f"!far:{server.server_name}"
    assert put_invite(remote, invite_event(remote, alice.user_id, room_id=room), room_id=room).status_code == 200
    first = sync(alice)
    assert room in first["rooms"]["invite"]
    template = {"type": "m.room.member", "room_id": room, "sender": alice.user_id, "state_key": alice.user_id,
                "content": {"membership": "leave"}, "depth": 9, "prev_events": ["$latest"],
                "auth_events": ["$create", "$pl", "$invite"], "origin_server_ts": 1}
    server.routes[f"/_matrix/federation/v1/make_leave/{quote(room, safe='')}/{quote(alice.user_id, safe='')}"] = \
        lambda rec: (200, {}, {"room_version": "10", "event": template})
    server.routes["/_matrix/federation/v2/send_leave/"] = lambda rec: (200, {}, {})

    resp = alice.post(f"{API}/rooms/{room}/leave", {"reason": "no thanks"})
    assert resp.status_code == 200, resp.json_body
    sent = [r for r in server.requests if r.path.startswith("/_matrix/federation/v2/send_leave/")]
    assert len(sent) == 1 and sent[0].method == "PUT"
    leave = json.loads(sent[0].body)
    assert leave["content"] == {"membership": "leave", "reason": "no thanks"}
    assert leave["prev_events"] == ["$latest"] and leave["sender"] == alice.user_id
    verify_event_signatures(leave, get_room_version("10"), keyring.key_lookup)  # signed by us
    later = sync(alice, first["next_batch"])
    assert room not in later["rooms"]["invite"] and room in later["rooms"]["leave"]
    assert room_stores.membership_of(room, alice.user_id)[0] == "leave"
    assert room not in sync(alice)["rooms"]["invite"]


def test_rejecting_when_the_inviting_server_is_unreachable(alice, remote):
    assert put_invite(remote, invite_event(remote, alice.user_id)).status_code == 200
    first = sync(alice)
    resp = alice.post(f"{API}/rooms/{ROOM}/leave", {})
    assert resp.status_code == 200, resp.json_body  # rejected locally: remote.test cannot be reached
    later = sync(alice, first["next_batch"])
    assert ROOM not in later["rooms"]["invite"] and ROOM in later["rooms"]["leave"]
    assert room_stores.membership_of(ROOM, alice.user_id)[0] == "leave"
    # Leaving again is a no-op, as for local rooms.
    assert alice.post(f"{API}/rooms/{ROOM}/leave", {}).status_code == 200
