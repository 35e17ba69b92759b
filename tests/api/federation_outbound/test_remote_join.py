"""A local user joins a room hosted by another server (make_join / send_join against a fake remote
homeserver on loopback), then sees it in /sync with its state; failures are clear Matrix errors."""
from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from django.conf import settings

from apps.core.errors import Codes
from apps.rooms import stores as room_stores
from apps.rooms.event_signing import sign_event
from apps.rooms.room_versions import get_room_version
from tests.api.federation.remote import q
from tests.api.sync.helpers import sync
from tests.conftest import assert_error
from tests.federation_support import json_route

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
FED = "/_matrix/federation"
RV = "10"


class HostedRoom:
    """A v10 room the fake server is in (its admin joined), served through make_join / send_join."""

    def __init__(self, server, remote, *, rv: str = RV, join_rule: dict | None = None):
        self.server, self.remote, self.rv = server, remote, rv
        self.admin = admin = remote.user("admin")
        v12 = rv == "12"  # the room ID is the create event's; no event lists the create event

        def ev(etype, content, prev, auth, depth, state_key=""):
            return remote.event(self.room_id, admin, etype, content, prev=prev,
                                auth=[a for a in auth if not (v12 and a == self.create.event_id)], depth=depth,
                                room_version=rv, state_key=state_key)

        self.room_id = f"!hosted:{remote.server_name}"
        self.create = remote.event(self.room_id, admin, "m.room.create",
                                   {"room_version": rv, **({} if v12 else {"creator": admin})}, prev=[], auth=[],
                                   depth=1, room_version=rv, state_key="")
        if v12:
            self.room_id = "!" + self.create.event_id[1:]
        c = self.create.event_id
        self.member = ev("m.room.member", {"membership": "join", "displayname": "Admin"}, [c], [c], 2, admin)
        m = self.member.event_id
        self.pl = ev("m.room.power_levels", {"users": {} if v12 else {admin: 100}, "users_default": 0, "invite": 0,
                                             "events_default": 0, "state_default": 50}, [m], [c, m], 3)
        p = self.pl.event_id
        self.jr = ev("m.room.join_rules", join_rule or {"join_rule": "public"}, [p], [c, m, p], 4)
        self.name = ev("m.room.name", {"name": "Remote lounge"}, [self.jr.event_id], [c, m, p], 5)
        self.state = [self.create, self.member, self.pl, self.jr, self.name]
        self.tip, self.invites = self.name, {}
        self._ev = ev
        self.authorise = False
        self.joins: list[dict] = []
        server.routes[f"{FED}/v1/make_join/"] = self.make_join
        server.routes[f"{FED}/v2/send_join/"] = self.send_join

    def make_join(self, rec):
        user = rec.path.split("?")[0].rsplit("/", 1)[1].replace("%40", "@").replace("%3A", ":")
        content = {"membership": "join"}
        auth = ([] if self.rv == "12" else [self.create.event_id]) + [self.pl.event_id, self.jr.event_id]
        if self.authorise:
            content["join_authorised_via_users_server"] = self.admin
            auth.append(self.member.event_id)
        if user in self.invites:
            auth.append(self.invites[user].event_id)
        template = {"type": "m.room.member", "room_id": self.room_id, "sender": user, "state_key": user,
                    "content": content, "prev_events": [self.tip.event_id], "auth_events": auth,
                    "depth": self.tip.depth + 1,
                    "origin_server_ts": int(time.time() * 1000), "origin": self.remote.server_name}
        return 200, {}, {"event": template, "room_version": self.rv}

    def invite(self, user_id: str):
        """The admin invites `user_id`: the invite joins the room's state."""
        c, m, p = self.create.event_id, self.member.event_id, self.pl.event_id
        self.tip = self.invites[user_id] = self._ev("m.room.member", {"membership": "invite"}, [self.tip.event_id],
                                                    [c, m, p, self.jr.event_id], self.tip.depth + 1, user_id)
        self.state.append(self.tip)
        return self.tip

    def send_join(self, rec):
        join = json.loads(rec.body)
        self.joins.append(join)
        body = {"state": [e.get_pdu_json() for e in self.state],
                "auth_chain": [e.get_pdu_json() for e in self.state[:4]], "members_omitted": False,
                "servers_in_room": [self.remote.server_name], "origin": self.remote.server_name}
        if self.authorise:
            body["event"] = sign_event(dict(join), get_room_version(self.rv), self.remote.server_name, self.remote.key)
        return 200, {}, body


def _all_events(room: dict) -> list[dict]:
    return room["state"]["events"] + room["timeline"]["events"]


def test_join_a_remote_room_and_see_it_in_sync(alice, remote_server):
    server, remote = remote_server
    hosted = HostedRoom(server, remote)
    alice.put(f"{API}/profile/{alice.user_id}/displayname", {"displayname": "Alice"})
    before = sync(alice)["next_batch"]

    resp = alice.post(f"{API}/rooms/{hosted.room_id}/join", {})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": hosted.room_id}
    # The join was signed by this server and carries the user's profile.
    (sent,) = hosted.joins
    assert sent["sender"] == alice.user_id and sent["content"]["displayname"] == "Alice"
    assert set(sent["signatures"]) == {settings.HS.server_name}

    body = sync(alice, before)
    room = body["rooms"]["join"][hosted.room_id]
    events = _all_events(room)
    names = [e["content"]["name"] for e in events if e["type"] == "m.room.name"]
    assert names == ["Remote lounge"]
    members = {e["state_key"]: e["content"]["membership"] for e in events if e["type"] == "m.room.member"}
    assert members == {hosted.admin: "join", alice.user_id: "join"}
    assert room["timeline"]["events"][-1]["sender"] == alice.user_id

    joined = alice.get(f"{API}/rooms/{hosted.room_id}/joined_members").json_body["joined"]
    assert set(joined) == {hosted.admin, alice.user_id}
    assert hosted.room_id in alice.get(f"{API}/joined_rooms").json_body["joined_rooms"]
    state = alice.get(f"{API}/rooms/{hosted.room_id}/state/m.room.name/").json_body
    assert state == {"name": "Remote lounge"}


def test_join_by_remote_alias_and_through_via(alice, bob, remote_server):
    server, remote = remote_server
    hosted = HostedRoom(server, remote)
    alias = f"#lounge:{remote.server_name}"
    server.routes[f"{FED}/v1/query/directory"] = json_route({"room_id": hosted.room_id,
                                                            "servers": [remote.server_name]})
    resp = alice.post(f"{API}/join/{quote(alias, safe='')}", {})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body == {"room_id": hosted.room_id}
    # Now this server is in the room: a second user's join is made here, not handshaken again.
    resp = bob.post(f"{API}/join/{quote(alias, safe='')}", {})
    assert resp.status_code == 200, resp.json_body
    assert len(hosted.joins) == 1
    joined = alice.get(f"{API}/rooms/{hosted.room_id}/joined_members").json_body["joined"]
    assert set(joined) == {hosted.admin, alice.user_id, bob.user_id}

    # A v12 room (its ID names no server), joined through the server the client names.
    other = HostedRoom(server, remote, rv="12")
    resp = bob.post(f"{API}/join/{quote(other.room_id, safe='')}?via={remote.server_name}", {})
    assert resp.status_code == 200, resp.json_body
    assert other.room_id in bob.get(f"{API}/joined_rooms").json_body["joined_rooms"]
    assert len(other.joins) == 1


def test_restricted_join_keeps_the_resident_servers_signature(alice, remote_server):
    server, remote = remote_server
    hosted = HostedRoom(server, remote, join_rule={
        "join_rule": "restricted", "allow": [{"type": "m.room_membership", "room_id": "!space:x"}]})
    hosted.authorise = True
    resp = alice.post(f"{API}/rooms/{hosted.room_id}/join", {})
    assert resp.status_code == 200, resp.json_body
    (membership, event_id) = room_stores.membership_of(hosted.room_id, alice.user_id)
    assert membership == "join"
    stored = room_stores.get_event(event_id)
    assert stored.content["join_authorised_via_users_server"] == hosted.admin
    assert remote.server_name in stored.pdu["signatures"]


def test_remote_refusals_are_passed_on(alice, remote_server):
    server, remote = remote_server
    room_id = f"!closed:{remote.server_name}"
    server.routes[f"{FED}/v1/make_join/"] = json_route({"errcode": "M_FORBIDDEN", "error": "invite only"}, 403)
    assert_error(alice.post(f"{API}/rooms/{room_id}/join", {}), 403, Codes.FORBIDDEN)
    server.routes[f"{FED}/v1/make_join/"] = json_route(
        {"errcode": "M_INCOMPATIBLE_ROOM_VERSION", "error": "no", "room_version": "99"}, 400)
    assert_error(alice.post(f"{API}/rooms/{room_id}/join", {}), 400, "M_INCOMPATIBLE_ROOM_VERSION")
    # A template of a version we do not know is refused here too.
    server.routes[f"{FED}/v1/make_join/"] = json_route({"event": {}, "room_version": "org.example.99"})
    assert_error(alice.post(f"{API}/rooms/{room_id}/join", {}), 502, Codes.UNKNOWN)
    assert room_stores.membership_of(room_id, alice.user_id) is None


def test_unreachable_server_is_a_clear_error(alice, remote_server):
    server, _ = remote_server
    dead = server.server_name
    server.close()
    assert_error(alice.post(f"{API}/rooms/!gone:{dead}/join", {}), 502, Codes.UNKNOWN)
    assert_error(alice.post(f"{API}/join/{quote(f'#gone:{dead}', safe='')}", {}), 502, Codes.UNKNOWN)


def _serve_leave(hosted, user_id: str, sent: list):
    def make_leave(rec):
        join_id = _event_id(hosted.joins[-1])
        template = {"type": "m.room.member", "room_id": hosted.room_id, "sender": user_id, "state_key": user_id,
                    "content": {"membership": "leave"}, "prev_events": [join_id],
                    "auth_events": [hosted.create.event_id, hosted.pl.event_id, join_id],
                    "depth": 7, "origin_server_ts": int(time.time() * 1000), "origin": hosted.remote.server_name}
        return 200, {}, {"event": template, "room_version": hosted.rv}

    def send_leave(rec):
        sent.append(json.loads(rec.body))
        return 200, {}, {}

    hosted.server.routes[f"{FED}/v1/make_leave/"] = make_leave
    hosted.server.routes[f"{FED}/v2/send_leave/"] = send_leave


def _event_id(pdu: dict) -> str:
    from apps.rooms.events import Event

    return Event(pdu, get_room_version(RV)).event_id


def test_last_local_member_leaves_through_the_resident_server(alice, remote_server):
    server, remote = remote_server
    hosted = HostedRoom(server, remote)
    assert alice.post(f"{API}/rooms/{hosted.room_id}/join", {}).status_code == 200
    since = sync(alice)["next_batch"]
    sent: list = []
    _serve_leave(hosted, alice.user_id, sent)

    resp = alice.post(f"{API}/rooms/{hosted.room_id}/leave", {"reason": "bye"})
    assert resp.status_code == 200, resp.json_body
    (leave,) = sent
    assert leave["content"] == {"membership": "leave", "reason": "bye"}
    assert set(leave["signatures"]) == {settings.HS.server_name}
    assert room_stores.membership_of(hosted.room_id, alice.user_id)[0] == "leave"
    body = sync(alice, since)
    assert hosted.room_id in body["rooms"]["leave"]
    assert hosted.room_id not in alice.get(f"{API}/joined_rooms").json_body["joined_rooms"]

    # Joining again is a new handshake, and the room is back.
    assert alice.post(f"{API}/rooms/{hosted.room_id}/join", {}).status_code == 200
    assert len(hosted.joins) == 2
    assert room_stores.membership_of(hosted.room_id, alice.user_id)[0] == "join"
    assert hosted.room_id in sync(alice, body["next_batch"])["rooms"]["join"]


def test_leaving_when_the_resident_server_is_gone_is_local(alice, remote_server):
    server, remote = remote_server
    hosted = HostedRoom(server, remote)
    assert alice.post(f"{API}/rooms/{hosted.room_id}/join", {}).status_code == 200
    server.close()
    resp = alice.post(f"{API}/rooms/{hosted.room_id}/leave", {})
    assert resp.status_code == 200, resp.json_body
    assert room_stores.membership_of(hosted.room_id, alice.user_id)[0] == "leave"


def test_unusable_send_join_answers_are_refused(alice, remote_server):
    server, remote = remote_server
    hosted = HostedRoom(server, remote)
    answers = [{"state": "nope", "auth_chain": []},
               {"state": [{"type": 5}], "auth_chain": [[1]]},
               # A state without its create event: the room cannot be checked.
               {"state": [hosted.name.get_pdu_json()], "auth_chain": []}]
    for answer in answers:
        server.routes[f"{FED}/v2/send_join/"] = json_route(answer)
        assert_error(alice.post(f"{API}/rooms/{hosted.room_id}/join", {}), 502, Codes.UNKNOWN)
        current = room_stores.membership_of(hosted.room_id, alice.user_id)
        assert current is None or current[0] != "join"


def test_accepting_a_remote_invite_joins_through_the_inviting_server(alice, remote_server):
    server, remote = remote_server
    # A v12 room: its ID names no server, only the invite tells where to join.
    hosted = HostedRoom(server, remote, rv="12", join_rule={"join_rule": "invite"})
    invite = hosted.invite(alice.user_id)
    resp = remote.put(f"{FED}/v2/invite/{q(hosted.room_id)}/{q(invite.event_id)}",
                      {"room_version": "12", "event": invite.get_pdu_json(),
                       "invite_room_state": [hosted.create.get_pdu_json(), hosted.name.get_pdu_json()]})
    assert resp.status_code == 200, resp.json_body
    since = sync(alice)
    assert hosted.room_id in since["rooms"]["invite"]

    resp = alice.post(f"{API}/rooms/{hosted.room_id}/join", {})
    assert resp.status_code == 200, resp.json_body
    body = sync(alice, since["next_batch"])
    assert hosted.room_id in body["rooms"]["join"]
    members = {e["state_key"]: e["content"]["membership"] for e in _all_events(body["rooms"]["join"][hosted.room_id])
               if e["type"] == "m.room.member"}
    assert members == {hosted.admin: "join", alice.user_id: "join"}


def test_leaving_a_room_created_here_asks_no_other_server(alice, remote_server):
    server, remote = remote_server
    room_id = alice.post(f"{API}/createRoom", {"preset": "public_chat"}).json_body["room_id"]
    remote.join(room_id, remote.user("bob"))
    assert alice.post(f"{API}/rooms/{room_id}/leave", {}).status_code == 200
    assert room_stores.membership_of(room_id, alice.user_id)[0] == "leave"
    assert not [r for r in server.requests if "make_leave" in r.path]
