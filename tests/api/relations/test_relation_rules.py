"""Pure rules of relationships: what forms one (client-server API, "Forming relationships between
events", m.relates_to) and which edits are valid (event_replacements.md, "Validity of replacement
events")."""
from __future__ import annotations

from apps.relations.aggregations import _valid_replacement
from apps.relations.index import relation_of
from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version


def test_relation_of():
    assert relation_of({"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}) == ("$root", "m.thread")
    assert relation_of({"m.relates_to": {"rel_type": "org.example.x", "event_id": "$p", "key": "k"}}) == \
        ("$p", "org.example.x")
    # Rich replies use no rel_type: no relationship for the server.
    assert relation_of({"m.relates_to": {"m.in_reply_to": {"event_id": "$p"}}}) is None
    assert relation_of({"m.relates_to": {"rel_type": "m.thread"}}) is None
    assert relation_of({"m.relates_to": {"rel_type": "", "event_id": "$p"}}) is None
    assert relation_of({"m.relates_to": {"rel_type": 3, "event_id": "$p"}}) is None
    assert relation_of({"m.relates_to": {"rel_type": "m.thread", "event_id": "p"}}) is None
    assert relation_of({"m.relates_to": "m.thread"}) is None
    assert relation_of({}) is None and relation_of(None) is None


def _ev(event_type="m.room.message", sender="@a:x", room="!r:x", state_key=None, **content) -> Event:
    pdu = {"type": event_type, "sender": sender, "room_id": room, "content": content, "origin_server_ts": 1}
    if state_key is not None:
        pdu["state_key"] = state_key
    return Event(pdu, get_room_version("10"))


def test_valid_replacement():
    original = _ev(body="hi")
    edit = {"m.new_content": {"body": "hello"}, "m.relates_to": {"rel_type": "m.replace", "event_id": "$o"}}
    assert _valid_replacement(original, _ev(**edit))
    assert not _valid_replacement(original, _ev(sender="@b:x", **edit))
    assert not _valid_replacement(original, _ev(event_type="m.sticker", **edit))
    assert not _valid_replacement(original, _ev(room="!other:x", **edit))
    assert not _valid_replacement(original, _ev(state_key="", **edit))
    assert not _valid_replacement(original, _ev(**{"m.relates_to": edit["m.relates_to"]}))  # no m.new_content
    assert not _valid_replacement(original, _ev(**{**edit, "m.new_content": "text"}))
    # An edit of an edit is not an edit.
    assert not _valid_replacement(_ev(**edit), _ev(**edit))
    # Encrypted: m.new_content is in the ciphertext, which the server cannot check.
    encrypted = _ev(event_type="m.room.encrypted", ciphertext="...")
    assert _valid_replacement(encrypted, _ev(event_type="m.room.encrypted", ciphertext="...",
                                             **{"m.relates_to": edit["m.relates_to"]}))


def test_thread_latest_event_is_topological(db):
    """A thread event that arrives late from another server (lower depth, later stream position) is
    counted but does not become the thread's latest event."""
    from apps.relations.index import _count_thread_event
    from apps.relations.models import ThreadRoot

    ThreadRoot.objects.create(root_event_id="$root", room_id="!r:x", root_sender="@a:x", count=1,
                              latest_event_id="$deep", latest_depth=10, latest_stream_ordering=100)
    late = Event({"type": "m.room.message", "sender": "@b:y", "room_id": "!r:x", "depth": 5, "origin_server_ts": 1,
                  "content": {"m.relates_to": {"rel_type": "m.thread", "event_id": "$root"}}},
                 get_room_version("10"))
    _count_thread_event(late, "$root", 200)
    root = ThreadRoot.objects.get(root_event_id="$root")
    assert (root.count, root.latest_event_id, root.latest_depth) == (2, "$deep", 10)
    deeper = Event({**late.pdu, "depth": 11}, get_room_version("10"))
    _count_thread_event(deeper, "$root", 201)
    root.refresh_from_db()
    assert (root.count, root.latest_event_id, root.latest_stream_ordering) == (3, deeper.event_id, 201)
