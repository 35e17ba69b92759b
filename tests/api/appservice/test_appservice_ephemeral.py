"""`receive_ephemeral`: typing, read receipts and presence pushed to a real service in the `ephemeral`
field of transactions (spec: application-service API, "Pushing ephemeral data")."""
from __future__ import annotations

import pytest

from tests.api.appservice.support import configure, registration

pytestmark = pytest.mark.django_db(transaction=True)

API = "/_matrix/client/v3"
AS_TOKEN = "as-token-for-tests"


def ephemeral_of(service) -> list[dict]:
    out = []
    for t in service.transactions():
        if t.answered == 200:
            assert t.body.get("ephemeral", []) == t.body.get("de.sorunome.msc2409.ephemeral", [])
            out.extend(t.body.get("ephemeral", []))
    return out


def bridged_room(mx, alice) -> tuple[str, str]:
    ivy = mx.post(f"{API}/register", {"type": "m.login.application_service", "username": "_bridge_ivy",
                                      "inhibit_login": True}, token=AS_TOKEN).json_body["user_id"]
    room = alice.post(f"{API}/createRoom", {"preset": "public_chat"}).json_body["room_id"]
    assert mx.post(f"{API}/join/{room}?user_id={ivy}", {}, token=AS_TOKEN).status_code == 200
    return ivy, room


def test_typing_receipts_and_presence_reach_the_service(mx, alice, bob, settings, tmp_path, fake_as):
    configure(settings, tmp_path, registration(fake_as, receive_ephemeral=True))
    ivy, room = bridged_room(mx, alice)
    quiet = bob.post(f"{API}/createRoom", {"preset": "public_chat"}).json_body["room_id"]

    assert alice.put(f"{API}/rooms/{room}/typing/{alice.user_id}", {"typing": True, "timeout": 30000}
                     ).status_code == 200
    assert bob.put(f"{API}/rooms/{quiet}/typing/{bob.user_id}", {"typing": True, "timeout": 30000}).status_code == 200
    typing = [e for e in ephemeral_of(fake_as) if e["type"] == "m.typing"]
    assert typing == [{"type": "m.typing", "room_id": room, "content": {"user_ids": [alice.user_id]}}]

    event_id = alice.put(f"{API}/rooms/{room}/send/m.room.message/r1", {"msgtype": "m.text", "body": "x"}
                         ).json_body["event_id"]
    assert alice.post(f"{API}/rooms/{room}/receipt/m.read/{event_id}", {}).status_code == 200
    assert alice.post(f"{API}/rooms/{room}/receipt/m.read.private/{event_id}", {}).status_code == 200
    receipts = [e for e in ephemeral_of(fake_as) if e["type"] == "m.receipt"]
    assert len(receipts) == 1 and receipts[0]["room_id"] == room
    assert set(receipts[0]["content"][event_id]) == {"m.read"}  # the private one is alice's, not the bridge's
    assert isinstance(receipts[0]["content"][event_id]["m.read"][alice.user_id]["ts"], int)

    assert alice.put(f"{API}/presence/{alice.user_id}/status", {"presence": "online"}).status_code == 200
    assert bob.put(f"{API}/presence/{bob.user_id}/status", {"presence": "online"}).status_code == 200
    presence = [e for e in ephemeral_of(fake_as) if e["type"] == "m.presence"]
    assert [p["sender"] for p in presence] == [alice.user_id]
    assert presence[0]["content"]["presence"] == "online"


def test_no_ephemeral_without_receive_ephemeral(mx, alice, settings, tmp_path, fake_as):
    configure(settings, tmp_path, registration(fake_as))
    ivy, room = bridged_room(mx, alice)
    assert alice.put(f"{API}/rooms/{room}/typing/{alice.user_id}", {"typing": True, "timeout": 30000}
                     ).status_code == 200
    alice.put(f"{API}/rooms/{room}/send/m.room.message/r1", {"msgtype": "m.text", "body": "x"})
    assert fake_as.transactions() and ephemeral_of(fake_as) == []
