"""Sections of /sync owned by other apps (`apps.sync.sections`): a registered fill adds to the response,
an entry it creates for a quiet room appears only if it put something in it, and request hooks run."""
from __future__ import annotations

import pytest

from apps.sync import sections

from tests.api.sync.helpers import API, sync

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def registered():
    added: list[str] = []

    def add(name, fill):
        sections.register(name, fill)
        added.append(name)
    yield add
    with sections._lock:
        for name in added:
            sections._sections.pop(name, None)


def test_a_section_fills_a_quiet_room_and_top_level_lists(alice, registered):
    room_id = alice.post(f"{API}/createRoom", {}).json_body["room_id"]
    since = sync(alice)["next_batch"]
    seen = {}

    def fill(ctx, response):
        seen["joined"] = list(ctx.joined_rooms)
        seen["initial"] = ctx.initial
        ctx.room_entry(room_id)["ephemeral"]["events"].append({"type": "org.example.test", "content": {}})
        response["account_data"]["events"].append({"type": "org.example.global", "content": {"a": 1}})
    registered("test-section", fill)
    body = sync(alice, since)
    assert seen == {"joined": [room_id], "initial": False}
    entry = body["rooms"]["join"][room_id]
    assert entry["ephemeral"]["events"] == [{"type": "org.example.test", "content": {}}]
    assert entry["timeline"]["events"] == [] and entry["timeline"]["prev_batch"].startswith("s")
    assert body["account_data"]["events"] == [{"type": "org.example.global", "content": {"a": 1}}]


def test_an_untouched_created_entry_is_not_an_update(alice, registered):
    room_id = alice.post(f"{API}/createRoom", {}).json_body["room_id"]
    since = sync(alice)["next_batch"]
    registered("test-section", lambda ctx, response: ctx.room_entry(room_id))
    body = sync(alice, since)
    assert room_id not in body["rooms"]["join"]


def test_request_hooks_see_set_presence(alice):
    calls = []
    sections.register_request_hook("test-hook", lambda requester, params: calls.append(
        (requester.user_id, params.set_presence)))
    try:
        sync(alice, set_presence="unavailable")
    finally:
        with sections._lock:
            sections._request_hooks.pop("test-hook", None)
    assert calls == [(alice.user_id, "unavailable")]
