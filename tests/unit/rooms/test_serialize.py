"""Client (ClientEvent, ClientEventWithoutRoomID) and federation serialisation of events."""
import pytest

from apps.rooms.events import Event, InternalMetadata
from apps.rooms.hashing import add_content_hash
from apps.rooms.redaction import prune_event
from apps.rooms.room_versions import V1, V10, V11, V12
from apps.rooms.serialize import client_event

NOW = 1_700_000_010_000
TS = 1_700_000_000_000


def make(rv=V10, unsigned=None, internal=None, **extra):
    pdu = {"type": "m.room.message", "sender": "@alice:a.example", "room_id": "!r:a.example",
           "content": {"body": "hi"}, "origin_server_ts": TS, "depth": 3, "prev_events": [], "auth_events": [],
           "hashes": {}, "signatures": {"a.example": {"ed25519:1": "s"}}, "origin": "a.example"}
    pdu.update(extra)
    pdu = {k: v for k, v in pdu.items() if v is not None}  # None: leave the key out
    add_content_hash(pdu)
    return Event(pdu, rv, unsigned=unsigned, internal=internal)


def test_client_event_shape():
    event = make()
    d = client_event(event, now_ms=NOW)
    assert d == {"content": {"body": "hi"}, "event_id": event.event_id, "origin_server_ts": TS,
                 "room_id": "!r:a.example", "sender": "@alice:a.example", "type": "m.room.message",
                 "unsigned": {"age": 10_000}}


def test_federation_only_fields_are_not_shown_to_clients():
    d = client_event(make(), now_ms=NOW)
    for key in ("hashes", "signatures", "depth", "prev_events", "auth_events", "origin"):
        assert key not in d


def test_without_room_id():
    d = client_event(make(), now_ms=NOW, format="client_without_room_id")
    assert "room_id" not in d and d["type"] == "m.room.message"


def test_state_key_only_on_state_events():
    d = client_event(make(type="m.room.name", state_key="", content={"name": "N"}), now_ms=NOW)
    assert d["state_key"] == ""
    assert "state_key" not in client_event(make(), now_ms=NOW)


def test_age_from_age_ts_when_present():
    d = client_event(make(unsigned={"age_ts": NOW - 5}), now_ms=NOW)
    assert d["unsigned"] == {"age": 5}  # age_ts itself is never shown


def test_server_computed_unsigned_fields_pass_through():
    unsigned = {"prev_content": {"name": "old"}, "prev_sender": "@bob:b", "replaces_state": "$old",
                "membership": "join", "age_ts": TS, "internal_secret": 1}
    d = client_event(make(type="m.room.name", state_key="", unsigned=unsigned), now_ms=NOW)
    assert d["unsigned"] == {"age": 10_000, "prev_content": {"name": "old"}, "prev_sender": "@bob:b",
                             "replaces_state": "$old", "membership": "join"}


def test_redacted_because_event_is_serialised_in_the_same_format():
    redaction = make(type="m.room.redaction", redacts="$target", content={"reason": "spam"})
    target = prune_event(make())
    target.unsigned["redacted_because"] = redaction
    d = client_event(target, now_ms=NOW)
    assert d["content"] == {}
    because = d["unsigned"]["redacted_because"]
    assert because["event_id"] == redaction.event_id and because["redacts"] == "$target"
    assert because["room_id"] == "!r:a.example"
    d = client_event(target, now_ms=NOW, format="client_without_room_id")
    assert "room_id" not in d["unsigned"]["redacted_because"]


def test_redacted_because_dict_passes_through():
    d = client_event(make(unsigned={"redacted_because": {"type": "m.room.redaction"}}), now_ms=NOW)
    assert d["unsigned"]["redacted_because"] == {"type": "m.room.redaction"}


@pytest.mark.parametrize("rv, pdu_extra", [
    (V10, {"redacts": "$t", "content": {"reason": "r"}}),
    (V11, {"content": {"redacts": "$t", "reason": "r"}}),
])
def test_redaction_event_redacts_at_top_level_and_in_content(rv, pdu_extra):
    # rooms/v11.md: servers serve `redacts` in both places, whatever the room version.
    event = make(rv, type="m.room.redaction", **pdu_extra)
    d = client_event(event, now_ms=NOW)
    assert d["redacts"] == "$t"
    assert d["content"] == {"redacts": "$t", "reason": "r"}
    assert event.content == pdu_extra["content"]  # the event itself is not modified


def test_transaction_id_only_for_sending_device():
    event = make(internal=InternalMetadata(txn_id="txn1", device_id="DEV"))
    assert client_event(event, now_ms=NOW, requester_device_id="DEV")["unsigned"]["transaction_id"] == "txn1"
    assert client_event(event, now_ms=NOW, requester_device_id="DEV",
                        requester_user_id="@alice:a.example")["unsigned"]["transaction_id"] == "txn1"
    assert "transaction_id" not in client_event(event, now_ms=NOW)["unsigned"]
    assert "transaction_id" not in client_event(event, now_ms=NOW, requester_device_id="OTHER")["unsigned"]
    # Device IDs are only unique per user.
    assert "transaction_id" not in client_event(event, now_ms=NOW, requester_device_id="DEV",
                                                requester_user_id="@bob:a.example")["unsigned"]
    no_txn = make(internal=InternalMetadata(device_id="DEV"))
    assert "transaction_id" not in client_event(no_txn, now_ms=NOW, requester_device_id="DEV")["unsigned"]


def test_v1_event_id_and_v12_create_room_id():
    v1 = make(V1, event_id="$abc:a.example")
    assert client_event(v1, now_ms=NOW)["event_id"] == "$abc:a.example"
    create = make(V12, type="m.room.create", state_key="", content={"room_version": "12"}, room_id=None)
    d = client_event(create, now_ms=NOW)
    assert d["room_id"] == "!" + d["event_id"][1:]


def test_federation_format_is_the_pdu_with_age():
    event = make(unsigned={"prev_content": {"x": 1}, "age_ts": NOW - 7},
                 internal=InternalMetadata(txn_id="t", device_id="D"))
    d = client_event(event, now_ms=NOW, format="federation", requester_device_id="D")
    assert d == {**event.pdu, "unsigned": {"age": 7}}
    assert "unsigned" not in event.pdu  # the event is not modified


def test_unknown_format():
    with pytest.raises(ValueError):
        client_event(make(), now_ms=NOW, format="v1")
