"""Search on SQLite's FTS5 index (`apps.search.stores`, migrations 0003/0004): bm25 ranking, prefix
terms, search terms full of FTS5 syntax taken as text, the FTS5 row dropped on redaction, rebuilt, and
deleted with its index row."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from apps.search.models import SearchEntry
from apps.search.stores import fts5_query
from tests.api.rooms.helpers import API, create_room

from tests.api.search.test_search import _ids, _send, search

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="FTS5 is the SQLite search index")


def _fts_rows(term: str) -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM event_search_fts WHERE event_search_fts MATCH %s", [fts5_query([term])])
        return cur.fetchone()[0]


def test_fts5_query_quotes_every_term():
    assert fts5_query(["mart"]) == '"mart"*'
    assert fts5_query(["or", "near"]) == '"or"* AND "near"*'
    # unicode61 splits on `_`: its parts are the terms.
    assert fts5_query(["foo_bar"]) == '"foo"* AND "bar"*'
    assert fts5_query(["_", "__"]) is None


@sqlite_only
def test_ranked_by_bm25(alice):
    room_id = create_room(alice, preset="public_chat")
    once = _send(alice, room_id, "a long message which says zebra only once among many other unrelated words here")
    most = _send(alice, room_id, "zebra zebra zebra")
    twice = _send(alice, room_id, "zebra and zebra again in a longer message")
    res = search(alice, {"search_term": "zebra", "keys": ["content.body"]})
    assert _ids(res) == [most, twice, once]
    ranks = [r["rank"] for r in res["results"]]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] > ranks[-1] > 0
    # `recent` ignores the score.
    assert _ids(search(alice, {"search_term": "zebra", "order_by": "recent"})) == [twice, most, once]
    # Pagination by offset follows the same order.
    first = search(alice, {"search_term": "zebra", "filter": {"limit": 2}})
    assert _ids(first) == [most, twice]
    second = search(alice, {"search_term": "zebra", "filter": {"limit": 2}}, first["next_batch"])
    assert _ids(second) == [once]


@sqlite_only
def test_prefix_case_and_diacritics(alice):
    room_id = create_room(alice, preset="public_chat")
    hit = _send(alice, room_id, "Meet me at the Café Bohème tonight")
    _send(alice, room_id, "a cafeteria is not a bohemian place")
    assert _ids(search(alice, {"search_term": "caf", "keys": ["content.body"], "order_by": "recent"}))[-1] == hit
    assert _ids(search(alice, {"search_term": "CAFE BOHÈME"})) == [hit]
    assert _ids(search(alice, {"search_term": "tonig"})) == [hit]
    # Prefix of a word, never a substring inside one.
    assert search(alice, {"search_term": "night"})["results"] == []


@sqlite_only
@pytest.mark.parametrize(("term", "found"), [
    ('"', False), ('""', False), ('"unbalanced', False), ("*", False), ("**", False), ("(", False), (")", False),
    ("AND", False), ("_", False), ("{value}: x", False),
    ("zeb*", True), ("(zebra", True), ("zebra)", True), ('"zebra', True), ("-zebra", True), ("^zebra", True),
    ("'zebra'", True), ('zebra"*(', True), ("NEAR(zebra stripes)", False), ("zebra OR", False),
    ("NOT zebra", False), ("body:zebra", False),
])
def test_fts5_syntax_in_the_term_is_text(alice, term, found):
    room_id = create_room(alice, preset="public_chat")
    hit = _send(alice, room_id, "zebra stripes")
    # Operator words (NEAR, OR, NOT, a column name) are searched as words: no message says them.
    assert _ids(search(alice, {"search_term": term})) == ([hit] if found else [])


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_redaction_drops_the_row_and_rebuild_leaves_it_out(alice):
    room_id = create_room(alice, preset="public_chat")
    gone = _send(alice, room_id, "regrettable quokka words")
    _send(alice, room_id, "a happy quokka")
    assert _fts_rows("quokka") == 2
    assert alice.put(f"{API}/rooms/{room_id}/redact/{gone}/r1", {}).status_code == 200
    assert _fts_rows("regrettable") == 0 and _fts_rows("quokka") == 1
    assert search(alice, {"search_term": "regrettable"})["results"] == []
    call_command("rebuild_search_index", stdout=open("/dev/null", "w"))
    assert _fts_rows("regrettable") == 0 and _fts_rows("quokka") == 1
    assert len(_ids(search(alice, {"search_term": "quokka"}))) == 1
    # An index row takes its FTS5 row with it, whoever deletes it (a database flush too).
    SearchEntry.objects.all().delete()
    assert _fts_rows("quokka") == 0
