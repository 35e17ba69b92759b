"""A remote server rotates its signing key: what our keyring accepts afterwards.

The remote publishes its keys on a TLS server on loopback (tests/federation_support.py) and our keyring
fetches them for real (no key is registered by hand). Events reach us as invites
(`PUT /_matrix/federation/v2/invite`, room version 10, where a key must be valid when the event was
sent); requests are X-Matrix signed. Spec: server-server API, "Publishing Keys": `old_verify_keys` are
only valid for signing events; definitions/keys.yaml: `valid_until_ts`, `expired_ts`.
"""
from __future__ import annotations

import time

import pytest
from django.core.cache import cache
from signedjson.key import encode_verify_key_base64, get_verify_key

from apps.federation.models import RemoteServerKey
from apps.rooms import stores as room_stores
from tests.api.federation.remote import FED, FakeRemote, q
from tests.conftest import assert_error
from tests.federation_support import key_response, new_signing_key

pytestmark = pytest.mark.django_db(transaction=True)

HOUR = 3600 * 1000
DAY = 24 * HOUR


def now_ms() -> int:
    return int(time.time() * 1000)


class RotatingRemote:
    """A remote homeserver whose key server answers with `current` and the `retired` keys
    ({key: expired_ts}); `remote` signs its requests and events with `remote.key`."""

    def __init__(self, tls_server):
        self.server = tls_server()
        self.current = new_signing_key("k1")
        self.retired: dict = {}
        self.valid_for = HOUR
        self.server.routes["/_matrix/key/v2/server"] = lambda rec: (200, {}, self.response())
        self.remote = FakeRemote(self.server.server_name, register_key=False)
        self.remote.key = self.current
        self.room_id = f"!far:{self.server.server_name}"

    def response(self) -> dict:
        old = {f"ed25519:{k.version}": {"key": encode_verify_key_base64(get_verify_key(k)), "expired_ts": ts}
               for k, ts in self.retired.items()}
        return key_response(self.server.server_name, self.current, old_verify_keys=old,
                            valid_until_ts=now_ms() + self.valid_for)

    def rotate(self, expired_ts: int):
        """A new current key; the previous one moves to old_verify_keys, retired at `expired_ts`."""
        self.retired[self.current] = expired_ts
        self.current = new_signing_key(f"k{len(self.retired) + 1}")

    def key_fetches(self) -> int:
        return len([r for r in self.server.requests if r.path == "/_matrix/key/v2/server"])

    def invite(self, invitee: str, *, event_key, request_key=None, ts: int | None = None):
        """PUT /v2/invite of `invitee`: the event signed with `event_key` at `ts`, the request with
        `request_key` (default: the current key)."""
        remote = self.remote
        remote.key = event_key
        event = remote.event(self.room_id, remote.user("bob"), "m.room.member", {"membership": "invite"},
                             state_key=invitee, prev=["$prev"], auth=["$create"], depth=5, room_version="10", ts=ts)
        remote.key = request_key or self.current
        state = [{"type": "m.room.join_rules", "state_key": "", "sender": remote.user("bob"),
                  "content": {"join_rule": "invite"}}]
        resp = remote.put(f"{FED}/v2/invite/{q(self.room_id)}/{q(event.event_id)}",
                          {"room_version": "10", "event": event.get_pdu_json(), "invite_room_state": state})
        return event, resp


@pytest.fixture
def far(tls_server):  # noqa: F811
    return RotatingRemote(tls_server)


def test_events_signed_with_an_old_key_before_it_expired_verify(far, alice):
    old = far.current
    retired_at = now_ms() - HOUR
    far.rotate(retired_at)

    event, resp = far.invite(alice.user_id, event_key=old, ts=retired_at - DAY)
    assert resp.status_code == 200, resp.json_body
    assert room_stores.membership_of(far.room_id, alice.user_id) == ("invite", event.event_id)
    # Cached as the server said: an old key, valid until its expiry.
    row = RemoteServerKey.objects.get(server_name=far.server.server_name, key_id=f"ed25519:{old.version}")
    assert row.is_old and row.valid_until_ts == retired_at


def test_events_signed_with_an_old_key_after_it_expired_are_refused(far, alice):
    old = far.current
    retired_at = now_ms() - HOUR
    far.rotate(retired_at)
    _, resp = far.invite(alice.user_id, event_key=old, ts=retired_at + 1000)
    assert "signature" in assert_error(resp, 400, "M_INVALID_PARAM")["error"]
    assert room_stores.membership_of(far.room_id, alice.user_id) is None
    # The old key is not asked about again for every such event: the server retired it for good.
    cache.clear()  # not even the refetch guard stands in the way
    _, resp = far.invite(alice.user_id, event_key=old, ts=retired_at + 2000)
    assert_error(resp, 400, "M_INVALID_PARAM")
    assert far.key_fetches() == 1


def test_requests_signed_with_an_old_key_are_refused(far, alice):
    old = far.current
    far.rotate(now_ms() + DAY)  # even while the old key has not expired yet: requests need a current key
    _, resp = far.invite(alice.user_id, event_key=far.current, request_key=old)
    assert_error(resp, 401, "M_UNAUTHORIZED")
    _, resp = far.invite(alice.user_id, event_key=far.current)
    assert resp.status_code == 200, resp.json_body


def test_a_rotation_is_picked_up_when_the_new_key_is_first_seen(far, alice, bob):
    first = far.current
    _, resp = far.invite(alice.user_id, event_key=first, ts=now_ms() - HOUR)
    assert resp.status_code == 200, resp.json_body
    assert far.key_fetches() == 1

    # The remote rotates; it signs with its new key, which we have not seen yet.
    rotated_at = now_ms() - 60_000
    far.rotate(rotated_at)
    cache.clear()  # the refetch guard (one fetch per server per 30 s) has passed
    _, resp = far.invite(bob.user_id, event_key=far.current)
    assert resp.status_code == 200, resp.json_body
    assert far.key_fetches() == 2
    row = RemoteServerKey.objects.get(server_name=far.server.server_name, key_id=f"ed25519:{first.version}")
    assert row.is_old and row.valid_until_ts == rotated_at

    # The first key still verifies what it signed before the rotation, but no longer a request.
    room2 = far.room_id
    far.room_id = f"!other:{far.server.server_name}"
    _, resp = far.invite(alice.user_id, event_key=first, ts=rotated_at - 1000)
    assert resp.status_code == 200, resp.json_body
    _, resp = far.invite(bob.user_id, event_key=far.current, request_key=first)
    assert_error(resp, 401, "M_UNAUTHORIZED")
    assert room_stores.membership_of(room2, bob.user_id)[0] == "invite"


def test_keys_are_cached_until_their_valid_until_ts(far, alice, bob):
    far.valid_for = 2 * HOUR
    before = now_ms()
    _, resp = far.invite(alice.user_id, event_key=far.current)
    assert resp.status_code == 200, resp.json_body
    row = RemoteServerKey.objects.get(server_name=far.server.server_name)
    assert before + 2 * HOUR <= row.valid_until_ts <= now_ms() + 2 * HOUR
    cache.clear()
    _, resp = far.invite(bob.user_id, event_key=far.current)
    assert resp.status_code == 200, resp.json_body
    assert far.key_fetches() == 1  # still valid: answered from the cache

    # Once valid_until_ts has passed, the key is fetched again before it is used.
    RemoteServerKey.objects.update(valid_until_ts=now_ms() - 1)
    cache.clear()
    far.room_id = f"!again:{far.server.server_name}"
    _, resp = far.invite(alice.user_id, event_key=far.current)
    assert resp.status_code == 200, resp.json_body
    assert far.key_fetches() == 2
    assert RemoteServerKey.objects.get(server_name=far.server.server_name).valid_until_ts > now_ms()


def test_validity_is_capped_at_seven_days(far, alice):
    far.valid_for = 30 * DAY
    _, resp = far.invite(alice.user_id, event_key=far.current)
    assert resp.status_code == 200, resp.json_body
    assert RemoteServerKey.objects.get(server_name=far.server.server_name).valid_until_ts <= now_ms() + 7 * DAY
