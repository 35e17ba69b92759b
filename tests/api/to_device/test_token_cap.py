"""`SyncContext.cap_token_position` (apps.sync.sections): a section that sent part of its stream lowers
that stream in next_batch, never below `since`, the lowest cap winning; other streams are untouched."""
from __future__ import annotations

from apps.streams.tokens import TOKEN_STREAMS, StreamToken
from apps.sync.filters import SyncFilter
from apps.sync.sections import SyncContext


def _ctx(since, now):
    return SyncContext(requester=None, since=since, now=now, full_state=False, filter=SyncFilter(),
                       joined_rooms=[], response={})


def test_no_cap_is_now():
    now = StreamToken({s: 10 for s in TOKEN_STREAMS})
    assert _ctx(None, now).next_batch() == now


def test_lowest_cap_wins_and_never_below_since():
    now = StreamToken({s: 10 for s in TOKEN_STREAMS})
    since = StreamToken({s: 4 for s in TOKEN_STREAMS})
    ctx = _ctx(since, now)
    ctx.cap_token_position("to_device", 8)
    ctx.cap_token_position("to_device", 6)
    assert ctx.next_batch().position("to_device") == 6
    assert all(ctx.next_batch().position(s) == 10 for s in TOKEN_STREAMS if s != "to_device")
    ctx.cap_token_position("to_device", 2)
    assert ctx.next_batch().position("to_device") == 4
