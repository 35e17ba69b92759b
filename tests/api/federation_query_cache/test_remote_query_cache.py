"""Remote profiles and aliases are kept a short while in the shared cache (apps.federation.query_cache):
asking again costs no federation request; a 404 M_NOT_FOUND is kept a minute, a failure never; a remote
user's member event with another display name or avatar drops their kept profile."""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlsplit

import pytest

from apps.core.errors import Codes
from apps.federation import query_cache
from apps.rooms.auth_rules import auth_types_for_event
from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version
from tests.api.federation.remote import state_after_join
from tests.api.rooms.helpers import create_room
from tests.conftest import assert_error

API = "/_matrix/client/v3"
FED = "/_matrix/federation/v1"
PROFILE, DIRECTORY = f"{FED}/query/profile", f"{FED}/query/directory"


class Answers:
    """A route of the fake server answering from `profiles` / `aliases`, or with the next of `next`
    ((status, body)) when there is one; `asked` lists the query of every request it took."""

    def __init__(self, server, path: str, table: dict, id_param: str):
        self.table, self.id_param = table, id_param
        self.next: list[tuple[int, object]] = []
        self.asked: list[dict] = []
        server.routes[path] = self

    def __call__(self, rec):
        query = {k: v[0] for k, v in parse_qs(urlsplit(rec.path).query).items()}
        self.asked.append(query)
        if self.next:
            status, body = self.next.pop(0)
            return status, {}, body
        found = self.table.get(query[self.id_param])
        if found is None:
            return 404, {}, {"errcode": "M_NOT_FOUND", "error": "not here"}
        if "field" in query:
            return 200, {}, {query["field"]: found[query["field"]]} if query["field"] in found else {}
        return 200, {}, found


@pytest.fixture
def profiles(remote_server):
    server, remote = remote_server
    return Answers(server, PROFILE, {}, "user_id")


@pytest.fixture
def aliases(remote_server):
    server, remote = remote_server
    return Answers(server, DIRECTORY, {}, "room_alias")


@pytest.fixture
def later(monkeypatch):
    """later(seconds): the kept answers' clock moves on."""
    start = query_cache._now()

    def move(seconds: float) -> None:
        monkeypatch.setattr(query_cache, "_now", lambda: start + seconds)
    return move


def test_a_remote_profile_is_asked_once_then_kept(alice, bob, remote_server, profiles, later):
    _, remote = remote_server
    carol = remote.user("carol")
    profiles.table[carol] = {"displayname": "Carol", "avatar_url": "mxc://remote/carol"}
    for client in (alice, alice, bob):
        resp = client.get(f"{API}/profile/{carol}")
        assert resp.status_code == 200 and resp.json_body == profiles.table[carol], resp.json_body
    assert profiles.asked == [{"user_id": carol}]
    # The fields are answered from the whole profile; a field it does not have is not set.
    assert alice.get(f"{API}/profile/{carol}/displayname").json_body == {"displayname": "Carol"}
    assert alice.get(f"{API}/profile/{carol}/avatar_url").json_body == {"avatar_url": "mxc://remote/carol"}
    assert_error(alice.get(f"{API}/profile/{carol}/m.tz"), 404, Codes.NOT_FOUND)
    assert len(profiles.asked) == 1
    # Another user is another question.
    dan = remote.user("dan")
    profiles.table[dan] = {"displayname": "Dan"}
    assert alice.get(f"{API}/profile/{dan}").json_body == {"displayname": "Dan"}
    assert len(profiles.asked) == 2
    # Kept for ten minutes, not longer.
    profiles.table[carol] = {"displayname": "Caroline"}
    later(query_cache.PROFILE_TTL - 5)
    assert alice.get(f"{API}/profile/{carol}").json_body["displayname"] == "Carol"
    later(query_cache.PROFILE_TTL + 5)
    assert alice.get(f"{API}/profile/{carol}").json_body == {"displayname": "Caroline"}
    assert profiles.asked[-1] == {"user_id": carol} and len(profiles.asked) == 3


def test_a_field_is_asked_and_kept_on_its_own(alice, remote_server, profiles):
    _, remote = remote_server
    carol = remote.user("carol")
    profiles.table[carol] = {"displayname": "Carol"}
    for _ in range(2):
        assert alice.get(f"{API}/profile/{carol}/displayname").json_body == {"displayname": "Carol"}
        assert_error(alice.get(f"{API}/profile/{carol}/avatar_url"), 404, Codes.NOT_FOUND)
    assert profiles.asked == [{"user_id": carol, "field": "displayname"}, {"user_id": carol, "field": "avatar_url"}]
    # The whole profile is a question of its own.
    assert alice.get(f"{API}/profile/{carol}").json_body == {"displayname": "Carol"}
    assert profiles.asked[-1] == {"user_id": carol}


def test_an_unknown_user_is_kept_a_minute(alice, remote_server, profiles, later):
    _, remote = remote_server
    nobody = remote.user("nobody")
    for path in ("", "/displayname", ""):
        assert_error(alice.get(f"{API}/profile/{nobody}{path}"), 404, Codes.NOT_FOUND)
    # The field was answered from the whole profile's 404.
    assert profiles.asked == [{"user_id": nobody}]
    profiles.table[nobody] = {"displayname": "Somebody now"}
    later(query_cache.NOT_FOUND_TTL - 5)
    assert_error(alice.get(f"{API}/profile/{nobody}"), 404, Codes.NOT_FOUND)
    later(query_cache.NOT_FOUND_TTL + 5)
    assert alice.get(f"{API}/profile/{nobody}").json_body == {"displayname": "Somebody now"}
    assert len(profiles.asked) == 2


@pytest.mark.parametrize("status, body, expected", [
    (500, {"errcode": "M_UNKNOWN", "error": "boom"}, (502, Codes.UNKNOWN)),
    (404, {"errcode": "M_UNRECOGNIZED", "error": "no such endpoint"}, (404, Codes.NOT_FOUND)),
    (200, ["not", "an", "object"], (502, Codes.UNKNOWN)),
    (403, {"errcode": "M_FORBIDDEN", "error": "not for you"}, (403, Codes.FORBIDDEN)),
])
def test_failures_are_never_kept(alice, remote_server, profiles, aliases, status, body, expected):
    _, remote = remote_server
    carol = remote.user("carol")
    alias = f"#lounge:{remote.server_name}"
    profiles.table[carol] = {"displayname": "Carol"}
    aliases.table[alias] = {"room_id": "!lounge:elsewhere", "servers": [remote.server_name]}
    profiles.next.append((status, body))
    aliases.next.append((status, body))
    assert_error(alice.get(f"{API}/profile/{carol}"), *expected)
    assert_error(alice.get(f"{API}/directory/room/{quote(alias)}"), *expected)
    # Asked again, and this time answered.
    assert alice.get(f"{API}/profile/{carol}").json_body == {"displayname": "Carol"}
    assert alice.get(f"{API}/directory/room/{quote(alias)}").json_body == aliases.table[alias]
    assert len(profiles.asked) == 2 and len(aliases.asked) == 2


def test_an_unreachable_server_is_not_kept(alice, tls_server):
    gone = tls_server()
    name = gone.server_name
    gone.close()
    for _ in range(2):
        assert_error(alice.get(f"{API}/profile/@carol:{name}"), 502, Codes.UNKNOWN)
        assert_error(alice.get(f"{API}/directory/room/{quote(f'#lounge:{name}')}"), 502, Codes.UNKNOWN)
    assert query_cache.cache.get(query_cache._key("profile", f"@carol:{name}")) is None
    assert query_cache.cache.get(query_cache._key("alias", f"#lounge:{name}")) is None


def test_a_remote_alias_is_asked_once_then_kept(alice, bob, remote_server, aliases, later):
    _, remote = remote_server
    alias = f"#lounge:{remote.server_name}"
    aliases.table[alias] = {"room_id": "!lounge:elsewhere", "servers": [remote.server_name]}
    for client in (alice, bob, alice):
        resp = client.get(f"{API}/directory/room/{quote(alias)}")
        assert resp.status_code == 200 and resp.json_body == aliases.table[alias], resp.json_body
    assert aliases.asked == [{"room_alias": alias}]
    # Kept five minutes; an unknown alias one.
    aliases.table[alias] = {"room_id": "!moved:elsewhere", "servers": [remote.server_name]}
    missing = f"#missing:{remote.server_name}"
    assert_error(alice.get(f"{API}/directory/room/{quote(missing)}"), 404, Codes.NOT_FOUND)
    later(query_cache.NOT_FOUND_TTL - 5)
    assert_error(alice.get(f"{API}/directory/room/{quote(missing)}"), 404, Codes.NOT_FOUND)
    assert len(aliases.asked) == 2
    later(query_cache.NOT_FOUND_TTL + 5)
    assert_error(alice.get(f"{API}/directory/room/{quote(missing)}"), 404, Codes.NOT_FOUND)
    assert alice.get(f"{API}/directory/room/{quote(alias)}").json_body["room_id"] == "!lounge:elsewhere"
    assert len(aliases.asked) == 3
    later(query_cache.ALIAS_TTL + 5)
    assert alice.get(f"{API}/directory/room/{quote(alias)}").json_body["room_id"] == "!moved:elsewhere"
    assert len(aliases.asked) == 4


def _rename(remote, room_id: str, user_id: str, after: Event, send_join_body: dict, content: dict) -> Event:
    """`user_id` (joined) changes their member event: a join after their join, sent in a transaction."""
    state = state_after_join(send_join_body, after)
    content = {"membership": "join", **content}
    probe = Event({"type": "m.room.member", "room_id": room_id, "sender": user_id, "state_key": user_id,
                   "content": content}, get_room_version("12"))
    auth = [state[k] for k in auth_types_for_event(probe) if k in state]
    event = remote.event(room_id, user_id, "m.room.member", content, prev=[after.event_id], auth=auth,
                         depth=after.depth + 1, state_key=user_id)
    resp = remote.send_transaction([event])
    assert resp.status_code == 200 and resp.json_body["pdus"] == {event.event_id: {}}, resp.json_body
    return event


@pytest.mark.django_db(transaction=True)
def test_a_member_event_with_a_new_name_or_avatar_drops_the_kept_profile(alice, remote_server, profiles):
    _, remote = remote_server
    carol = remote.user("carol")
    room_id = create_room(alice, preset="public_chat")
    profiles.table[carol] = {"displayname": "Carol", "avatar_url": "mxc://remote/a"}
    join, body = remote.join(room_id, carol)
    assert alice.get(f"{API}/profile/{carol}").json_body["displayname"] == "Carol"
    assert alice.get(f"{API}/profile/{carol}/displayname").json_body == {"displayname": "Carol"}
    asked = len(profiles.asked)

    # The same name and avatar as kept: nothing to drop.
    after = _rename(remote, room_id, carol, join, body, {"displayname": "Carol", "avatar_url": "mxc://remote/a"})
    assert alice.get(f"{API}/profile/{carol}").json_body["displayname"] == "Carol"
    assert len(profiles.asked) == asked

    # A new name: the next lookup asks her server.
    profiles.table[carol] = {"displayname": "Caroline", "avatar_url": "mxc://remote/a"}
    after = _rename(remote, room_id, carol, after, body, {"displayname": "Caroline", "avatar_url": "mxc://remote/a"})
    assert alice.get(f"{API}/profile/{carol}").json_body["displayname"] == "Caroline"
    assert len(profiles.asked) == asked + 1

    # A new avatar, with a field kept on its own.
    query_cache.forget_profile(carol)
    assert alice.get(f"{API}/profile/{carol}/avatar_url").json_body == {"avatar_url": "mxc://remote/a"}
    profiles.table[carol] = {"displayname": "Caroline", "avatar_url": "mxc://remote/b"}
    _rename(remote, room_id, carol, after, body, {"displayname": "Caroline", "avatar_url": "mxc://remote/b"})
    assert alice.get(f"{API}/profile/{carol}/avatar_url").json_body == {"avatar_url": "mxc://remote/b"}
    assert len(profiles.asked) == asked + 3


def test_kept_profiles_are_dropped_only_when_a_member_event_differs():
    user = "@carol:remote.test"
    assert query_cache.profile(user, None, lambda: {"displayname": "Carol"}) == {"displayname": "Carol"}
    assert not query_cache.forget_profile_if_changed(user, {"membership": "join", "displayname": "Carol"})
    assert query_cache.forget_profile_if_changed(user, {"membership": "join", "displayname": "Carol",
                                                        "avatar_url": "mxc://x/y"})
    # Gone: the next lookup fetches.
    assert query_cache.profile(user, None, lambda: {"displayname": "New"}) == {"displayname": "New"}
    # A field said not to be set, then seen set in a member event.
    query_cache.forget_profile(user)
    query_cache.profile(user, "avatar_url", lambda: {})
    assert not query_cache.forget_profile_if_changed(user, {"membership": "join", "displayname": "New"})
    assert query_cache.forget_profile_if_changed(user, {"membership": "join", "avatar_url": "mxc://x/y"})
    # Nothing kept: nothing to drop.
    assert not query_cache.forget_profile_if_changed(user, {"membership": "join", "displayname": "Other"})
