"""Room v3 event IDs are standard base64 and may contain '/': sent percent-encoded, they must reach the
endpoint whole (the raw path is used for matching; Django alone would split the segment)."""
import json
from urllib.parse import quote

from tests.api.rooms.helpers import API, create_room, send


def _event_id_with_slash(client, room_id: str) -> str:
    for i in range(60):
        resp = send(client, room_id, {"msgtype": "m.text", "body": f"message {i}"})
        assert resp.status_code == 200, resp.json_body
        if "/" in resp.json_body["event_id"]:
            return resp.json_body["event_id"]
    raise AssertionError("no event ID with '/' in 60 sends")


def _raw_request(client, method: str, raw: str, body=None):
    """As gunicorn does: the decoded path in PATH_INFO, the raw one in RAW_URI."""
    resp = client.http.generic(method, raw, data=json.dumps(body) if body is not None else "",
                               content_type="application/json",
                               HTTP_AUTHORIZATION=f"Bearer {client.token}", RAW_URI=raw)
    resp.json_body = json.loads(resp.content)
    return resp


def test_v3_event_id_with_slash_is_fetched_and_redacted(alice):
    room_id = create_room(alice, room_version="3")
    event_id = _event_id_with_slash(alice, room_id)

    raw = f"{API}/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}"
    resp = _raw_request(alice, "GET", raw)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["event_id"] == event_id

    raw = f"{API}/rooms/{quote(room_id, safe='')}/redact/{quote(event_id, safe='')}/txn1"
    resp = _raw_request(alice, "PUT", raw, {"reason": "typo"})
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body["event_id"].startswith("$")


def test_without_raw_path_the_decoded_path_is_matched_as_before(alice):
    room_id = create_room(alice, room_version="3")
    event_id = _event_id_with_slash(alice, room_id)
    # No raw path known (a server that gives none): the slash splits the segment; a clean 404, not a 500.
    resp = alice.get(f"{API}/rooms/{quote(room_id, safe='')}/event/{quote(event_id, safe='')}")
    assert resp.status_code == 404
    assert resp.json_body["errcode"] in ("M_UNRECOGNIZED", "M_NOT_FOUND")
