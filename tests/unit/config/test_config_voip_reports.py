"""The TURN keys (GET /voip/turnServer) and `rc_reports` are read with their defaults and checked."""
from __future__ import annotations

import pytest

from hsproject.config import ConfigError
from hsproject.config.sections import RateLimit
from tests.unit.config.test_config_validation import base, load


def test_defaults(tmp_path):
    cfg = load(tmp_path, base())
    assert cfg.voip.turn_uris == () and cfg.voip.turn_shared_secret is None
    assert cfg.voip.turn_user_lifetime_ms == 3_600_000 and cfg.voip.turn_allow_guests is True
    assert cfg.rc_reports == RateLimit(0.05, 5)


def test_turn_keys(tmp_path):
    cfg = load(tmp_path, base(turn_uris=["turn:t.example.org"], turn_shared_secret="s", turn_user_lifetime="1d",
                              turn_allow_guests=False, turn_username="u", turn_password="p",
                              rc_reports={"per_second": 1, "burst_count": 2}))
    assert cfg.voip.turn_uris == ("turn:t.example.org",)
    assert cfg.voip.turn_user_lifetime_ms == 86_400_000 and not cfg.voip.turn_allow_guests
    assert (cfg.voip.turn_username, cfg.voip.turn_password) == ("u", "p")
    assert cfg.rc_reports == RateLimit(1.0, 2)


@pytest.mark.parametrize("extra, key", [
    ({"turn_uris": [3478]}, "turn_uris"),
    ({"turn_user_lifetime": "soon"}, "turn_user_lifetime"),
    ({"turn_allow_guests": "yes"}, "turn_allow_guests"),
    ({"rc_reports": {"burst_count": 0}}, "rc_reports.burst_count"),
])
def test_bad_values_name_the_key(tmp_path, extra, key):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, base(**extra))
    assert key in str(err.value)
