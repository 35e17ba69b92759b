"""Bundled aggregations in /sync: on limited timelines (client-server API, "Aggregations of child events")."""
from __future__ import annotations

import pytest

from tests.api.relations.helpers import create_room, in_thread, send_id, text
from tests.api.sync.helpers import sync

pytestmark = pytest.mark.django_db(transaction=True)


def _by_id(body, room_id):
    return {e["event_id"]: e for e in body["rooms"]["join"][room_id]["timeline"]["events"]}


def test_limited_timeline_bundles_threads(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    send_id(alice, room_id, in_thread(root, "reply"))
    body = sync(alice, filter={"room": {"timeline": {"limit": 2}}})
    timeline = body["rooms"]["join"][room_id]["timeline"]
    assert timeline["limited"] is True
    thread = _by_id(body, room_id)[root]["unsigned"]["m.relations"]["m.thread"]
    assert thread["count"] == 1 and thread["current_user_participated"] is True
    # /sync's events carry no room_id, nor do the events embedded in their aggregations.
    assert "room_id" not in thread["latest_event"]


def test_unlimited_timeline_is_not_bundled(alice):
    room_id = create_room(alice, preset="public_chat")
    since = sync(alice)["next_batch"]
    root = send_id(alice, room_id, text("root"))
    send_id(alice, room_id, in_thread(root, "reply"))
    body = sync(alice, since)
    assert body["rooms"]["join"][room_id]["timeline"]["limited"] is False
    assert "m.relations" not in _by_id(body, room_id)[root]["unsigned"]
