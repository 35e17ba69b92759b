"""POST /_matrix/client/v3/search: room_events by search term and keys, in the user's rooms and
visible history only; order_by, filter, pagination, groupings, event_context, include_state."""
from __future__ import annotations

from urllib.parse import quote

from tests.api.rooms.helpers import API, create_room, send
from tests.conftest import assert_error


def _send(client, room_id, body):
    resp = send(client, room_id, {"msgtype": "m.text", "body": body})
    assert resp.status_code == 200, resp.json_body
    return resp.json_body["event_id"]


def search(client, criteria: dict, next_batch: str | None = None, expect: int = 200):
    url = f"{API}/search" + (f"?next_batch={quote(next_batch)}" if next_batch else "")
    resp = client.post(url, {"search_categories": {"room_events": criteria}})
    assert resp.status_code == expect, resp.json_body
    return resp.json_body["search_categories"]["room_events"] if expect == 200 else resp


def _ids(res):
    return [r["result"]["event_id"] for r in res["results"]]


def test_finds_messages_names_and_topics(alice):
    room_id = create_room(alice, preset="public_chat", name="Embassy of martians", topic="talks with martians")
    hit = _send(alice, room_id, "The Martians have landed")
    _send(alice, room_id, "nothing to see")
    res = search(alice, {"search_term": "martians", "order_by": "recent"})
    assert res["count"] == 3
    kinds = [r["result"]["type"] for r in res["results"]]
    assert kinds == ["m.room.message", "m.room.topic", "m.room.name"]
    assert res["results"][0]["result"]["event_id"] == hit
    assert res["results"][0]["result"]["room_id"] == room_id
    assert isinstance(res["results"][0]["rank"], float)
    assert "martians" in res["highlights"]
    only_body = search(alice, {"search_term": "martians", "keys": ["content.body"]})
    assert _ids(only_body) == [hit]
    # Every word must match; words match as prefixes.
    assert _ids(search(alice, {"search_term": "martians landed"})) == [hit]
    assert _ids(search(alice, {"search_term": "land", "keys": ["content.body"]})) == [hit]
    assert search(alice, {"search_term": "venusians"})["results"] == []
    assert search(alice, {"search_term": "  !!  "}) == {"count": 0, "results": [], "highlights": []}


def test_only_rooms_and_history_the_user_may_see(alice, bob):
    public = create_room(alice, preset="public_chat")
    private = create_room(alice, preset="private_chat")
    _send(alice, private, "secret plans")
    before = _send(alice, public, "plans before bob")
    assert bob.post(f"{API}/rooms/{public}/join", {}).status_code == 200
    during = _send(alice, public, "plans while bob is here")
    assert bob.post(f"{API}/rooms/{public}/leave", {}).status_code == 200
    _send(alice, public, "plans after bob left")
    found = _ids(search(bob, {"search_term": "plans", "order_by": "recent"}))
    # shared history: what was said before bob joined is visible, nothing after he left.
    assert found == [during, before]
    assert len(_ids(search(alice, {"search_term": "plans"}))) == 4


def test_redacted_events_are_not_found(alice):
    room_id = create_room(alice, preset="public_chat")
    gone = _send(alice, room_id, "regrettable words")
    assert alice.put(f"{API}/rooms/{room_id}/redact/{gone}/r1", {}).status_code == 200
    assert search(alice, {"search_term": "regrettable"})["results"] == []


def test_filter_and_pagination(alice, bob):
    a = create_room(alice, preset="public_chat")
    b = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{a}/join", {}).status_code == 200
    sent = []
    for i in range(5):
        sent.append(_send(alice if i % 2 == 0 else bob, a, f"cheese number {i}"))
    other = _send(alice, b, "cheese elsewhere")

    first = search(alice, {"search_term": "cheese", "order_by": "recent", "filter": {"limit": 3}})
    assert _ids(first) == [other, sent[4], sent[3]]
    assert first["count"] == 6
    second = search(alice, {"search_term": "cheese", "order_by": "recent", "filter": {"limit": 3}},
                    first["next_batch"])
    assert _ids(second) == [sent[2], sent[1], sent[0]]
    assert "next_batch" not in second

    ranked, seen, token = [], 0, None
    while True:
        page = search(alice, {"search_term": "cheese", "filter": {"limit": 4}}, token)
        ranked += _ids(page)
        seen += 1
        token = page.get("next_batch")
        if token is None:
            break
    assert sorted(ranked) == sorted(sent + [other]) and seen == 2

    assert _ids(search(alice, {"search_term": "cheese", "filter": {"rooms": [b]}})) == [other]
    assert set(_ids(search(alice, {"search_term": "cheese", "filter": {"senders": [bob.user_id]}}))) == \
        {sent[1], sent[3]}
    assert other not in _ids(search(alice, {"search_term": "cheese", "filter": {"not_rooms": [b]}}))


def test_groupings(alice, bob):
    a = create_room(alice, preset="public_chat")
    b = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{a}/join", {}).status_code == 200
    a1 = _send(alice, a, "pizza one")
    b1 = _send(alice, b, "pizza two")
    a2 = _send(bob, a, "pizza three")
    res = search(alice, {"search_term": "pizza", "order_by": "recent",
                         "groupings": {"group_by": [{"key": "room_id"}, {"key": "sender"}]}})
    assert res["groups"]["room_id"][a] == {"order": 1, "results": [a2, a1]}
    assert res["groups"]["room_id"][b] == {"order": 2, "results": [b1]}
    assert res["groups"]["sender"][alice.user_id]["results"] == [b1, a1]

    # A group's token continues within the group only.
    page = search(alice, {"search_term": "pizza", "order_by": "recent", "filter": {"limit": 1},
                          "groupings": {"group_by": [{"key": "room_id"}]}})
    assert _ids(page) == [a2]
    more = search(alice, {"search_term": "pizza", "order_by": "recent", "filter": {"limit": 1},
                          "groupings": {"group_by": [{"key": "room_id"}]}},
                  page["groups"]["room_id"][a]["next_batch"])
    assert _ids(more) == [a1]


def test_event_context_and_state(alice):
    room_id = create_room(alice, preset="public_chat", name="Kitchen")
    alice.put(f"{API}/profile/{quote(alice.user_id)}/displayname", {"displayname": "Alice A."})
    before = [_send(alice, room_id, f"before {i}") for i in range(3)]
    hit = _send(alice, room_id, "the soup is ready")
    after = [_send(alice, room_id, f"after {i}") for i in range(3)]
    res = search(alice, {"search_term": "soup", "include_state": True,
                         "event_context": {"before_limit": 2, "after_limit": 1, "include_profile": True}})
    ctx = res["results"][0]["context"]
    assert [e["event_id"] for e in ctx["events_before"]] == [before[2], before[1]]
    assert [e["event_id"] for e in ctx["events_after"]] == [after[0]]
    assert ctx["start"] and ctx["end"]
    assert ctx["profile_info"][alice.user_id]["displayname"] == "Alice A."
    assert hit == res["results"][0]["result"]["event_id"]
    state_types = {e["type"] for e in res["state"][room_id]}
    assert {"m.room.create", "m.room.name"} <= state_types


def test_bad_requests(alice):
    def post(body, qs=""):
        return alice.post(f"{API}/search{qs}", body)

    assert_error(post({}), 400, "M_MISSING_PARAM")
    assert_error(post({"search_categories": []}), 400, "M_BAD_JSON")
    assert post({"search_categories": {}}).json_body == {"search_categories": {}}
    assert_error(post({"search_categories": {"room_events": {}}}), 400, "M_MISSING_PARAM")
    assert_error(post({"search_categories": {"room_events": {"search_term": 3}}}), 400, "M_BAD_JSON")
    assert_error(post({"search_categories": {"room_events": {"search_term": "x", "keys": ["content.url"]}}}),
                 400, "M_INVALID_PARAM")
    assert_error(post({"search_categories": {"room_events": {"search_term": "x", "order_by": "best"}}}),
                 400, "M_INVALID_PARAM")
    assert_error(post({"search_categories": {"room_events": {"search_term": "x", "filter": {"limit": -1}}}}),
                 400, "M_BAD_JSON")
    assert_error(post({"search_categories": {"room_events": {"search_term": "x",
                                                             "groupings": {"group_by": [{"key": "type"}]}}}}),
                 400, "M_INVALID_PARAM")
    assert_error(post({"search_categories": {"room_events": {"search_term": "x",
                                                             "event_context": {"before_limit": "5"}}}}),
                 400, "M_BAD_JSON")
    assert_error(post({"search_categories": {"room_events": {"search_term": "x"}}}, "?next_batch=zzz"),
                 400, "M_INVALID_PARAM")
    assert_error(alice.post(f"{API}/search", raw=b"not json"), 400, "M_NOT_JSON")
    mx = alice.__class__()
    assert_error(mx.post(f"{API}/search", {"search_categories": {}}), 401, "M_MISSING_TOKEN")


def test_search_query_count_does_not_grow_with_results(alice, django_assert_max_num_queries):
    room_id = create_room(alice, preset="public_chat")
    for i in range(30):
        _send(alice, room_id, f"apple {i}")
    with django_assert_max_num_queries(20):
        res = search(alice, {"search_term": "apple", "filter": {"limit": 20}})
    assert len(res["results"]) == 20


def test_ignored_users_are_left_out(alice, bob):
    room_id = create_room(alice, preset="public_chat")
    assert bob.post(f"{API}/rooms/{room_id}/join", {}).status_code == 200
    mine = _send(alice, room_id, "tea time")
    between = _send(bob, room_id, "no words")
    _send(bob, room_id, "tea for bob")
    ignored = {"ignored_users": {bob.user_id: {}}}
    assert alice.put(f"{API}/user/{quote(alice.user_id)}/account_data/m.ignored_user_list", ignored).status_code == 200
    res = search(alice, {"search_term": "tea", "event_context": {"after_limit": 3}})
    assert _ids(res) == [mine]
    assert between not in [e["event_id"] for e in res["results"][0]["context"]["events_after"]]
    assert len(_ids(search(bob, {"search_term": "tea"}))) == 2
