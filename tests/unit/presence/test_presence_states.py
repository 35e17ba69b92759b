"""The presence transitions and timeouts (`apps.presence.states`), with the clock passed in."""
from __future__ import annotations

from apps.presence.states import (ACTIVE_GRANULARITY_MS, IDLE_AFTER_MS, OFFLINE, OFFLINE_AFTER_MS, ONLINE,
                                  UNAVAILABLE, Presence, after_timeouts, content, next_deadline, on_sync,
                                  set_explicitly)

T = 1_700_000_000_000


def test_setting_a_state_is_activity():
    p = set_explicitly(Presence(), ONLINE, "hi", T)
    assert p == Presence(ONLINE, "hi", T, T, True)
    assert content(p, T + 5) == {"presence": ONLINE, "last_active_ago": 5, "status_msg": "hi",
                                 "currently_active": True}
    away = set_explicitly(p, UNAVAILABLE, None, T + 10)
    assert content(away, T + 10) == {"presence": UNAVAILABLE, "last_active_ago": 0}


def test_never_seen_user_is_offline_without_last_active():
    assert content(Presence(), T) == {"presence": OFFLINE}


def test_activity_lapses_then_idle_then_offline():
    p = set_explicitly(Presence(), ONLINE, None, T)
    seen = lambda p, at: Presence(p.state, p.status_msg, p.last_active_ts, at, p.currently_active)  # noqa: E731
    # Kept connected (seen) all along: currently_active lapses after the granularity, idle after 5 min.
    at = T + ACTIVE_GRANULARITY_MS + 1
    assert after_timeouts(seen(p, at), at) == Presence(ONLINE, None, T, at, False)
    at = T + IDLE_AFTER_MS + 1
    assert after_timeouts(seen(p, at), at).state == UNAVAILABLE
    # Not seen for the offline timeout: offline, whatever the state.
    assert after_timeouts(p, T + OFFLINE_AFTER_MS + 1).state == OFFLINE
    assert after_timeouts(p, T + OFFLINE_AFTER_MS) == p
    assert after_timeouts(set_explicitly(p, UNAVAILABLE, "brb", T), T + OFFLINE_AFTER_MS + 1) == \
        Presence(OFFLINE, "brb", T, T, False)


def test_next_deadline_is_the_first_timeout():
    p = set_explicitly(Presence(), ONLINE, None, T)
    assert next_deadline(p) == T + OFFLINE_AFTER_MS + 1
    assert after_timeouts(p, next_deadline(p)) != p
    assert next_deadline(Presence()) is None


def test_sync_online_brings_an_offline_user_online_but_not_an_idle_one():
    p = on_sync(Presence(), ONLINE, T)
    assert (p.state, p.last_active_ts, p.last_seen_ts, p.currently_active) == (ONLINE, T, T, True)
    idle = Presence(UNAVAILABLE, None, T - IDLE_AFTER_MS - 5, T, False)
    assert on_sync(idle, ONLINE, T + 1) == Presence(UNAVAILABLE, None, idle.last_active_ts, T + 1, False)
    # A user gone offline by timeout who syncs again comes back online.
    stale = set_explicitly(Presence(), ONLINE, None, T)
    later = T + OFFLINE_AFTER_MS + 10
    assert on_sync(stale, ONLINE, later).state == ONLINE
    assert on_sync(stale, ONLINE, later).last_active_ts == later


def test_sync_unavailable_and_offline():
    online = set_explicitly(Presence(), ONLINE, None, T)
    assert on_sync(online, UNAVAILABLE, T + 1) == Presence(UNAVAILABLE, None, T, T + 1, False)
    assert on_sync(Presence(), UNAVAILABLE, T).state == UNAVAILABLE
    # set_presence=offline changes nothing, not even "seen".
    assert on_sync(online, OFFLINE, T + 1) is online


def test_what_clients_are_told_about():
    p = set_explicitly(Presence(), ONLINE, None, T)
    assert on_sync(p, ONLINE, T + 5).visible() == p.visible()  # only seen again
    assert set_explicitly(p, ONLINE, "x", T + 5).visible() != p.visible()


def test_remote_users_only_time_out_after_long_silence():
    from apps.presence.states import REMOTE_OFFLINE_AFTER_MS, from_remote

    p = from_remote(ONLINE, "hi", 5_000, True, T)
    assert p == Presence(ONLINE, "hi", T - 5_000, T, True, remote=True)
    assert content(p, T) == {"presence": ONLINE, "last_active_ago": 5_000, "status_msg": "hi",
                             "currently_active": True}
    assert after_timeouts(p, T + IDLE_AFTER_MS + 1) == p
    assert after_timeouts(p, T + REMOTE_OFFLINE_AFTER_MS + 1).state == OFFLINE
    assert next_deadline(p) == T + REMOTE_OFFLINE_AFTER_MS + 1
    # currently_active means nothing unless online.
    assert from_remote(UNAVAILABLE, None, 0, True, T).currently_active is False
