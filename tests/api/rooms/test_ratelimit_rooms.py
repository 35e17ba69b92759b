"""rc_message, rc_joins and rc_invites: 429 M_LIMIT_EXCEEDED with retry_after_ms once over the limit."""
from __future__ import annotations

import pytest

from hsproject.config.sections import RateLimit
from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import MatrixClient, assert_error

TIGHT = RateLimit(per_second=0.001, burst_count=2)


def user(name: str) -> MatrixClient:
    c = MatrixClient()
    c.register(name)
    return c


def limited(resp) -> dict:
    body = assert_error(resp, 429, "M_LIMIT_EXCEEDED")
    assert isinstance(body["retry_after_ms"], int) and body["retry_after_ms"] > 0
    assert int(resp.headers["Retry-After"]) >= 1
    return body


def test_rc_message(settings, alice, bob):
    room_id = create_room(alice, preset="public_chat")
    bob.post(f"{API}/rooms/{room_id}/join")
    settings.HS = settings.HS.replace(rc_message=TIGHT)
    assert send(alice, room_id, txn_id="t1").status_code == 200
    assert send(alice, room_id, txn_id="t2").status_code == 200
    # A retried transaction is answered from the first send and not counted.
    first = send(alice, room_id, txn_id="t1")
    assert first.status_code == 200
    limited(send(alice, room_id, txn_id="t3"))
    # Per user: bob still may send.
    assert send(bob, room_id).status_code == 200


def test_rc_joins_local(settings, alice, bob):
    rooms = [create_room(alice, preset="public_chat") for _ in range(3)]
    settings.HS = settings.HS.replace(rc_joins_local=TIGHT)
    assert bob.post(f"{API}/rooms/{rooms[0]}/join").status_code == 200
    assert bob.post(f"{API}/join/{rooms[1]}").status_code == 200
    # Joining a room one is already in (same profile) is not a join to count.
    assert bob.post(f"{API}/rooms/{rooms[0]}/join").status_code == 200
    limited(bob.post(f"{API}/rooms/{rooms[2]}/join"))
    assert user("carol").post(f"{API}/rooms/{rooms[2]}/join").status_code == 200


def test_rc_invites_per_issuer(settings, alice):
    room_a, room_b = create_room(alice), create_room(alice)
    invitees = [user(f"guest{i}") for i in range(3)]
    settings.HS = settings.HS.replace(rc_invites_per_issuer=TIGHT)
    assert alice.post(f"{API}/rooms/{room_a}/invite", {"user_id": invitees[0].user_id}).status_code == 200
    assert alice.post(f"{API}/rooms/{room_b}/invite", {"user_id": invitees[1].user_id}).status_code == 200
    limited(alice.post(f"{API}/rooms/{room_a}/invite", {"user_id": invitees[2].user_id}))


def test_rc_invites_per_room(settings, alice, bob):
    room_id = create_room(alice, preset="trusted_private_chat", invite=[bob.user_id])
    bob.post(f"{API}/rooms/{room_id}/join")
    other = create_room(alice)
    invitees = [user(f"guest{i}") for i in range(4)]
    settings.HS = settings.HS.replace(rc_invites_per_room=TIGHT)
    assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": invitees[0].user_id}).status_code == 200
    assert bob.post(f"{API}/rooms/{room_id}/invite", {"user_id": invitees[1].user_id}).status_code == 200
    limited(bob.post(f"{API}/rooms/{room_id}/invite", {"user_id": invitees[2].user_id}))
    assert alice.post(f"{API}/rooms/{other}/invite", {"user_id": invitees[3].user_id}).status_code == 200


def test_rc_invites_per_user(settings, alice, bob):
    rooms = [create_room(alice) for _ in range(3)]
    settings.HS = settings.HS.replace(rc_invites_per_user=TIGHT)
    for room_id in rooms[:2]:
        assert alice.post(f"{API}/rooms/{room_id}/invite", {"user_id": bob.user_id}).status_code == 200
    limited(alice.post(f"{API}/rooms/{rooms[2]}/invite", {"user_id": bob.user_id}))
    assert alice.post(f"{API}/rooms/{rooms[2]}/invite", {"user_id": user("carol").user_id}).status_code == 200


@pytest.mark.parametrize("key", ["rc_message", "rc_joins", "rc_invites"])
def test_config_rejects_bad_values(key):
    from pathlib import Path

    from hsproject.config.errors import ConfigError
    from hsproject.config.sections import build

    raw = {"server_name": "example.org", "form_secret": "s"}
    bad = {"per_second": 1, "burst_count": 0}
    raw[key] = bad if key == "rc_message" else {("local" if key == "rc_joins" else "per_room"): bad}
    with pytest.raises(ConfigError) as e:
        build(raw, embedded=False, data_directory=Path("/tmp/hs-rl-test"))
    assert key in str(e.value)


def test_config_defaults_are_synapses():
    from pathlib import Path

    from hsproject.config.sections import build

    hs = build({"server_name": "example.org", "form_secret": "s"}, embedded=False,
               data_directory=Path("/tmp/hs-rl-test"))
    assert hs.rc_message == RateLimit(0.2, 10)
    assert (hs.rc_joins_local, hs.rc_joins_remote) == (RateLimit(0.1, 10), RateLimit(0.01, 10))
    assert (hs.rc_invites_per_room, hs.rc_invites_per_user, hs.rc_invites_per_issuer) == (
        RateLimit(0.3, 10), RateLimit(0.003, 5), RateLimit(0.3, 10))
