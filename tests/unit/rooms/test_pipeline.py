"""The one pipeline on events from another server: dropped (format, signatures), rejected (auth
against auth events or state before), soft-failed (current state), accepted."""
from __future__ import annotations

import time

import pytest
from signedjson.key import generate_signing_key, get_verify_key

from apps.rooms import pipeline, state_store, stores
from apps.rooms.auth_rules import auth_types_for_event
from apps.rooms.creation import create_local_event
from apps.rooms.event_format import EventFormatError
from apps.rooms.event_signing import SignatureError, sign_event
from apps.rooms.events import Event
from apps.rooms.models import EventRow, ForwardExtremity
from apps.rooms.room_versions import get_room_version

pytestmark = pytest.mark.django_db

ALICE = "@alice:test.local"
EVE = "@eve:remote.test"
REMOTE_KEY = generate_signing_key("1")


def key_lookup(server, key_id):
    if server == "remote.test" and key_id == "ed25519:1":
        return get_verify_key(REMOTE_KEY), 2**62
    return None


@pytest.fixture(autouse=True)
def _fresh_cache():
    state_store.clear_cache()
    yield
    state_store.clear_cache()


@pytest.fixture(params=["10", "11", "12"])
def room(request):
    rv = get_room_version(request.param)
    create, _ = create_local_event(ALICE, None, {"type": "m.room.create", "state_key": "", "content": {
        "room_version": rv.identifier, **({} if rv.implicit_room_creator else {"creator": ALICE})}}, room_version=rv)
    room_id = create.room_id
    for ev in ({"type": "m.room.member", "state_key": ALICE, "content": {"membership": "join"}},
               {"type": "m.room.power_levels", "state_key": "",
                "content": {"users": {} if rv.privileged_creators else {ALICE: 100}}},
               {"type": "m.room.join_rules", "state_key": "", "content": {"join_rule": "public"}}):
        create_local_event(ALICE, room_id, ev)
    return room_id


def remote_event(room_id, event_dict, *, prev_ids=None, sender=EVE, sign=True):
    """A PDU as remote.test would build it at the current extremities (or `prev_ids`)."""
    rv = get_room_version(stores.get_room(room_id).room_version)
    prev_ids = prev_ids or [e for e, _ in stores.forward_extremities(room_id)]
    state = pipeline.context_after(room_id, rv, prev_ids).state_before
    pdu = {"room_id": room_id, "sender": sender, "origin_server_ts": int(time.time() * 1000), "prev_events": prev_ids,
           "depth": max(d.depth for d in stores.get_events(prev_ids).values()) + 1, "auth_events": [], **event_dict}
    pdu["auth_events"] = [state[k] for k in auth_types_for_event(Event(pdu, rv)) if k in state]
    if sign:
        sign_event(pdu, rv, server_name="remote.test", signing_key=REMOTE_KEY)
    return Event(pdu, rv)


def join(room_id, **kw):
    return remote_event(room_id, {"type": "m.room.member", "state_key": EVE, "content": {"membership": "join"}}, **kw)


def test_accepted_remote_join_updates_state_and_extremities(room):
    ev = join(room)
    pos = pipeline.process_remote_event(ev, key_lookup)
    assert pos is not None
    assert stores.membership_of(room, EVE) == ("join", ev.event_id)
    assert set(ForwardExtremity.objects.filter(room_id=room).values_list("event_id", flat=True)) == {ev.event_id}


def test_unsigned_or_badly_signed_events_are_dropped(room):
    unsigned = join(room, sign=False)
    unsigned.pdu["hashes"] = {"sha256": "x"}
    unsigned.pdu["signatures"] = {}
    with pytest.raises(SignatureError):
        pipeline.process_remote_event(Event(unsigned.pdu, unsigned.room_version), key_lookup)
    forged = join(room)
    sig = forged.pdu["signatures"]["remote.test"]["ed25519:1"]
    forged.pdu["signatures"] = {"remote.test": {"ed25519:1": ("B" if sig[0] == "A" else "A") + sig[1:]}}
    with pytest.raises(SignatureError):
        pipeline.process_remote_event(Event(forged.pdu, forged.room_version), key_lookup)
    assert not EventRow.objects.filter(sender=EVE).exists()


def test_bad_format_is_dropped(room):
    ev = join(room)
    pdu = dict(ev.pdu)
    del pdu["depth"]
    with pytest.raises(EventFormatError):
        pipeline.process_remote_event(Event(pdu, ev.room_version), key_lookup)


def test_wrong_content_hash_keeps_the_redacted_event(room):
    pipeline.process_remote_event(join(room), key_lookup)
    msg = remote_event(room, {"type": "m.room.message", "content": {"body": "original"}})
    pdu = dict(msg.pdu)
    pdu["content"] = {"body": "tampered"}  # signatures cover the redacted form, so they still verify
    ev = Event(pdu, msg.room_version)
    pipeline.process_remote_event(ev, key_lookup)
    stored = stores.get_event(ev.event_id)
    assert stored.content == {}


def test_unauthorised_state_is_rejected(room):
    pipeline.process_remote_event(join(room), key_lookup)
    ev = remote_event(room, {"type": "m.room.name", "state_key": "", "content": {"name": "eve's"}})
    pipeline.process_remote_event(ev, key_lookup)
    stored = stores.get_event(ev.event_id)
    assert stored.rejected
    assert ("m.room.name", "") not in state_store.current_state(room)
    assert not ForwardExtremity.objects.filter(event_id=ev.event_id).exists()


def test_event_passing_its_auth_but_not_the_current_state_is_soft_failed(room):
    eve_join = join(room)
    pipeline.process_remote_event(eve_join, key_lookup)
    # Alice bans eve; eve, not having seen it yet, sends a message after her join.
    create_local_event(ALICE, room, {"type": "m.room.member", "state_key": EVE, "content": {"membership": "ban"}})
    msg = remote_event(room, {"type": "m.room.message", "content": {"body": "hi"}}, prev_ids=[eve_join.event_id])
    pipeline.process_remote_event(msg, key_lookup)
    stored = stores.get_event(msg.event_id)
    assert stored.internal.soft_failed and not stored.rejected
    assert not ForwardExtremity.objects.filter(event_id=msg.event_id).exists()
    assert stores.membership_of(room, EVE)[0] == "ban"


def test_local_event_failing_auth_is_an_error_and_not_stored(room):
    from apps.core.errors import MatrixError

    with pytest.raises(MatrixError) as e:
        create_local_event("@stranger:test.local", room, {"type": "m.room.message", "content": {}})
    assert e.value.errcode == "M_FORBIDDEN"
    assert not EventRow.objects.filter(sender="@stranger:test.local").exists()
