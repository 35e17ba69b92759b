"""The pure rules of message retention (`apps.retention.policy`): which `m.room.retention` contents count,
the effective policy (room values, the server's default, the allowed clamp), purge-job ranges, expiry."""
from __future__ import annotations

import pytest

from apps.retention.policy import RetentionPolicy, effective_policy, expired, in_job_range, parse_content
from hsproject.config.sections import RetentionConfig, RetentionPurgeJob

DAY = 86_400_000


@pytest.mark.parametrize("content, policy", [
    ({"max_lifetime": DAY}, RetentionPolicy(None, DAY)),
    ({"min_lifetime": 5, "max_lifetime": DAY}, RetentionPolicy(5, DAY)),
    ({"min_lifetime": 5}, RetentionPolicy(5, None)),
    ({"max_lifetime": 0}, RetentionPolicy(None, 0)),
    ({"max_lifetime": DAY, "other": "kept out"}, RetentionPolicy(None, DAY)),
])
def test_valid_contents(content, policy):
    assert parse_content(content) == policy


@pytest.mark.parametrize("content", [
    {},                                       # neither key: no policy stated
    {"unrelated": 1},
    {"max_lifetime": "86400000"},             # a string
    {"max_lifetime": 1.5},                    # a float
    {"max_lifetime": 1000.0},                 # a float, even a whole one
    {"max_lifetime": True},                   # a bool is not an integer here (Synapse: type(...) is int)
    {"max_lifetime": None},                   # present but null
    {"min_lifetime": 5, "max_lifetime": []},  # one bad value spoils the event
    {"min_lifetime": "5", "max_lifetime": DAY},
    {"max_lifetime": 2 ** 60},                # outside canonical JSON's integers
    [1, 2],
    "max_lifetime",
])
def test_invalid_contents_are_ignored(content):
    assert parse_content(content) is None


def test_room_values_win_over_the_default():
    config = RetentionConfig(enabled=True, default_min_lifetime_ms=1, default_max_lifetime_ms=10 * DAY)
    assert effective_policy(RetentionPolicy(2, 3 * DAY), config) == RetentionPolicy(2, 3 * DAY)


def test_missing_values_come_from_the_default():
    config = RetentionConfig(enabled=True, default_min_lifetime_ms=1, default_max_lifetime_ms=10 * DAY)
    assert effective_policy(None, config) == RetentionPolicy(1, 10 * DAY)
    assert effective_policy(RetentionPolicy(2, None), config) == RetentionPolicy(2, 10 * DAY)
    assert effective_policy(RetentionPolicy(None, DAY), config) == RetentionPolicy(1, DAY)


def test_no_default_and_no_room_value_means_nothing_expires():
    config = RetentionConfig(enabled=True, allowed_lifetime_min_ms=DAY, allowed_lifetime_max_ms=2 * DAY)
    assert effective_policy(None, config) == RetentionPolicy(None, None)
    assert effective_policy(RetentionPolicy(5, None), config) == RetentionPolicy(5, None)


@pytest.mark.parametrize("room_max, effective", [
    (1, DAY),                # too short: raised to allowed_lifetime_min
    (DAY, DAY),
    (3 * DAY // 2, 3 * DAY // 2),
    (2 * DAY, 2 * DAY),
    (365 * DAY, 2 * DAY),    # too long: lowered to allowed_lifetime_max
])
def test_max_lifetime_is_clamped_into_the_allowed_range(room_max, effective):
    config = RetentionConfig(enabled=True, allowed_lifetime_min_ms=DAY, allowed_lifetime_max_ms=2 * DAY)
    assert effective_policy(RetentionPolicy(None, room_max), config).max_lifetime == effective


def test_the_default_is_clamped_too_and_one_bound_alone_applies():
    assert effective_policy(None, RetentionConfig(default_max_lifetime_ms=30 * DAY,
                                                  allowed_lifetime_max_ms=7 * DAY)).max_lifetime == 7 * DAY
    assert effective_policy(RetentionPolicy(None, 1), RetentionConfig(allowed_lifetime_min_ms=DAY)) \
        == RetentionPolicy(None, DAY)


def test_min_lifetime_is_not_clamped():
    config = RetentionConfig(allowed_lifetime_min_ms=DAY, allowed_lifetime_max_ms=2 * DAY)
    assert effective_policy(RetentionPolicy(1, DAY), config).min_lifetime == 1


def test_job_ranges_exclude_the_shortest_and_include_the_longest():
    short = RetentionPurgeJob(longest_max_lifetime_ms=3 * DAY, interval_ms=DAY // 2)
    long = RetentionPurgeJob(shortest_max_lifetime_ms=3 * DAY, interval_ms=DAY)
    everything = RetentionPurgeJob()
    for lifetime in (1, DAY, 3 * DAY, 3 * DAY + 1, 400 * DAY):
        # Back-to-back jobs take every room exactly once.
        assert in_job_range(lifetime, short) != in_job_range(lifetime, long)
        assert in_job_range(lifetime, everything)
    assert in_job_range(3 * DAY, short) and not in_job_range(3 * DAY, long)
    assert not in_job_range(None, everything)


def test_expired_is_strictly_older_than_the_lifetime():
    now = 1_000_000_000
    assert expired(now - DAY - 1, DAY, now)
    assert not expired(now - DAY, DAY, now)
    assert not expired(now, DAY, now)
    assert not expired(0, None, now)
