"""Which events the search index holds, and under which key (client-server API, "room_events")."""
from __future__ import annotations

from apps.rooms.events import Event
from apps.rooms.room_versions import get_room_version
from apps.search.index import searchable


def _ev(event_type, state_key=None, **content) -> Event:
    pdu = {"type": event_type, "sender": "@a:x", "room_id": "!r:x", "content": content, "origin_server_ts": 1}
    if state_key is not None:
        pdu["state_key"] = state_key
    return Event(pdu, get_room_version("10"))


def test_searchable():
    assert searchable(_ev("m.room.message", body="hello", msgtype="m.text")) == ("content.body", "hello")
    assert searchable(_ev("m.room.message", body="nul\x00byte")) == ("content.body", "nulbyte")
    assert searchable(_ev("m.room.message", body=7)) is None
    assert searchable(_ev("m.room.name", "", name="Lobby")) == ("content.name", "Lobby")
    assert searchable(_ev("m.room.name", "other", name="Lobby")) is None
    assert searchable(_ev("m.room.topic", "", topic="Cats")) == ("content.topic", "Cats")
    # The text/plain body of m.topic is searched too (a missing mimetype is text/plain).
    topic = _ev("m.room.topic", "", topic="Cats", **{"m.topic": {"m.text": [
        {"mimetype": "text/html", "body": "<b>Cats</b> and dogs"}, {"body": "Cats and dogs"}]}})
    assert searchable(topic) == ("content.topic", "Cats\nCats and dogs")
    assert searchable(_ev("m.room.encrypted", ciphertext="...")) is None
    assert searchable(_ev("m.room.topic", "", topic="")) is None
