"""`manage.py rebuild_relations_index`: the index recomputed from the stored timeline gives the same
answers as the one the persister kept (redacted children left out)."""
from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from apps.relations.models import EventRelation, ThreadRoot
from tests.api.relations.helpers import (
    API, create_room, edit, get_event, ids, in_thread, reference, relations, send_id, text, threads,
)


def test_rebuild_gives_the_same_index(alice):
    room_id = create_room(alice, preset="public_chat")
    root = send_id(alice, room_id, text("root"))
    send_id(alice, room_id, in_thread(root, "one"))
    gone = send_id(alice, room_id, in_thread(root, "two"))
    fix = send_id(alice, room_id, edit(root, "root!"))
    ref = send_id(alice, room_id, reference(root))
    assert alice.put(f"{API}/rooms/{room_id}/redact/{gone}/r", {}).status_code == 200
    before = get_event(alice, room_id, root)["unsigned"]["m.relations"]
    listed = ids(relations(alice, room_id, root).json_body["chunk"])

    EventRelation.objects.all().delete()
    ThreadRoot.objects.all().delete()
    assert "m.relations" not in get_event(alice, room_id, root)["unsigned"]
    out = StringIO()
    call_command("rebuild_relations_index", stdout=out)
    assert "rebuilt" in out.getvalue()

    after = get_event(alice, room_id, root)["unsigned"]["m.relations"]
    assert after["m.thread"]["count"] == before["m.thread"]["count"] == 1
    assert after["m.replace"]["event_id"] == fix and after["m.reference"] == {"chunk": [{"event_id": ref}]}
    assert ids(relations(alice, room_id, root).json_body["chunk"]) == listed
    assert ids(threads(alice, room_id).json_body["chunk"]) == [root]
