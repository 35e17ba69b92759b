"""`manage.py rebuild_search_index`: the index recomputed from the stored timeline."""
from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from apps.search.models import SearchEntry
from tests.api.rooms.helpers import API, create_room, send


def _search(client, term):
    body = {"search_categories": {"room_events": {"search_term": term, "order_by": "recent"}}}
    resp = client.post(f"{API}/search", body)
    assert resp.status_code == 200, resp.json_body
    return [r["result"]["event_id"] for r in resp.json_body["search_categories"]["room_events"]["results"]]


def test_rebuild_search_index(alice):
    room_id = create_room(alice, preset="public_chat", name="Orchard")
    hit = send(alice, room_id, {"msgtype": "m.text", "body": "orchard apples"}).json_body["event_id"]
    found = _search(alice, "orchard")
    assert found[0] == hit and len(found) == 2
    SearchEntry.objects.all().delete()
    assert _search(alice, "orchard") == []
    out = StringIO()
    call_command("rebuild_search_index", stdout=out)
    assert "rebuilt" in out.getvalue()
    assert _search(alice, "orchard") == found
