"""Namespace questions of apps.appservice.registry: prefix matching as Synapse, local users only,
exclusivity, and who is exempt from rate limits."""
from __future__ import annotations

import pytest

from apps.appservice import registry
from apps.core.errors import MatrixError
from hsproject.config.appservices import parse_registration


def reg(id="a", users=(), aliases=(), rooms=(), **extra):
    return parse_registration(f"{id}.yaml", {
        "id": id, "url": None, "as_token": f"as-{id}", "hs_token": f"hs-{id}", "sender_localpart": f"_{id}_bot",
        "namespaces": {"users": [{"exclusive": e, "regex": r} for r, e in users],
                       "aliases": [{"exclusive": e, "regex": r} for r, e in aliases],
                       "rooms": [{"exclusive": e, "regex": r} for r, e in rooms]}, **extra})


@pytest.fixture
def hs(settings):
    def configure(*regs):
        settings.HS = settings.HS.replace(app_services=tuple(regs))
        return regs
    return configure


def test_user_namespace_matches_from_the_start_and_only_local_users(hs):
    [a] = hs(reg(users=[("@_irc_.*", True), ("@telegram_[0-9]+", False)]))
    assert registry.is_user_in_namespace(a, "@_irc_bob:test.local")
    assert registry.is_user_in_namespace(a, "@telegram_123:test.local")  # no server part in the regex
    assert not registry.is_user_in_namespace(a, "@x_irc_bob:test.local")
    assert not registry.is_user_in_namespace(a, "@_irc_bob:elsewhere.example")
    assert registry.is_user_in_namespace(a, "@_a_bot:test.local")  # the sender
    assert registry.is_exclusive_user(a, "@_irc_bob:test.local")
    assert not registry.is_exclusive_user(a, "@telegram_1:test.local")


def test_exclusive_checks_spare_the_owner(hs):
    a, b = hs(reg("a", users=[("@_a_.*", True)], aliases=[("#_a_.*", True)]), reg("b", users=[("@shared_.*", False)]))
    registry.check_user_not_exclusive("@_a_x:test.local", allowed=a)
    with pytest.raises(MatrixError) as e:
        registry.check_user_not_exclusive("@_a_x:test.local", allowed=b)
    assert (e.value.errcode, e.value.status) == ("M_EXCLUSIVE", 400)
    with pytest.raises(MatrixError):
        registry.check_user_not_exclusive("@_b_bot:test.local")  # a sender is its service's
    registry.check_user_not_exclusive("@shared_x:test.local")
    with pytest.raises(MatrixError):
        registry.check_alias_not_exclusive("#_a_room:test.local")
    registry.check_alias_not_exclusive("#_a_room:test.local", allowed=a)


def test_tokens_and_ids(hs):
    a, b = hs(reg("a"), reg("b"))
    assert registry.by_as_token("as-b") is b and registry.by_as_token("as-") is None
    assert registry.by_as_token("hs-a") is None
    assert registry.by_id("a") is a and registry.by_id("c") is None


def test_rate_limit_exemption(hs):
    hs(reg("a", users=[("@_a_.*", False)], rate_limited=False), reg("b", users=[("@_b_.*", True)]))
    assert registry.is_rate_limit_exempt("@_a_x:test.local")
    assert registry.is_rate_limit_exempt("@_b_bot:test.local")  # senders are never limited
    assert not registry.is_rate_limit_exempt("@_b_x:test.local")
    assert not registry.is_rate_limit_exempt("@alice:test.local")
