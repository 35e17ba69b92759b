"""POST /user/{userId}/filter and GET /user/{userId}/filter/{filterId} (client-server API, "Filtering")."""
from __future__ import annotations

import pytest

from tests.conftest import assert_error

API = "/_matrix/client/v3"

FILTER = {"room": {"timeline": {"limit": 5, "types": ["m.room.message"]},
                   "state": {"lazy_load_members": True}},
          "presence": {"not_types": ["*"]}, "event_fields": ["type", "content.body"]}


def test_define_and_get_filter(alice):
    resp = alice.post(f"{API}/user/{alice.user_id}/filter", FILTER)
    assert resp.status_code == 200, resp.json_body
    fid = resp.json_body["filter_id"]
    assert isinstance(fid, str)
    got = alice.get(f"{API}/user/{alice.user_id}/filter/{fid}")
    assert got.status_code == 200 and got.json_body == FILTER


def test_same_filter_same_id_other_filter_other_id(alice):
    a = alice.post(f"{API}/user/{alice.user_id}/filter", FILTER).json_body["filter_id"]
    assert alice.post(f"{API}/user/{alice.user_id}/filter", FILTER).json_body["filter_id"] == a
    b = alice.post(f"{API}/user/{alice.user_id}/filter", {"room": {"include_leave": True}}).json_body["filter_id"]
    assert a != b


def test_filters_of_other_users_are_forbidden(alice, bob):
    fid = alice.post(f"{API}/user/{alice.user_id}/filter", FILTER).json_body["filter_id"]
    assert_error(bob.get(f"{API}/user/{alice.user_id}/filter/{fid}"), 403, "M_FORBIDDEN")
    assert_error(bob.post(f"{API}/user/{alice.user_id}/filter", FILTER), 403, "M_FORBIDDEN")
    # bob has no filter of that id
    assert_error(bob.get(f"{API}/user/{bob.user_id}/filter/{fid}"), 404, "M_NOT_FOUND")


@pytest.mark.parametrize("fid", ["999", "abc", "-1", "1" * 40])
def test_unknown_filter_is_404(alice, fid):
    assert_error(alice.get(f"{API}/user/{alice.user_id}/filter/{fid}"), 404, "M_NOT_FOUND")


@pytest.mark.parametrize("body", [
    {"event_format": "xml"},
    {"event_fields": "type"},
    {"event_fields": [1]},
    {"room": []},
    {"room": {"rooms": "!a:b"}},
    {"room": {"rooms": ["not-a-room"]}},
    {"room": {"include_leave": "yes"}},
    {"room": {"timeline": {"limit": "10"}}},
    {"room": {"timeline": {"limit": -1}}},
    {"room": {"timeline": {"types": [None]}}},
    {"room": {"state": {"lazy_load_members": 1}}},
    {"presence": {"senders": "@a:b"}},
    {"account_data": 3},
])
def test_invalid_filters_are_bad_json(alice, body):
    assert_error(alice.post(f"{API}/user/{alice.user_id}/filter", body), 400, "M_BAD_JSON")


def test_filter_needs_json_and_auth(alice):
    assert_error(alice.post(f"{API}/user/{alice.user_id}/filter", raw=b"nope"), 400, "M_NOT_JSON")
    assert_error(alice.post(f"{API}/user/{alice.user_id}/filter", FILTER, token=None), 401, "M_MISSING_TOKEN")
