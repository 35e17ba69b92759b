"""apps.federation.acl.server_allowed: the m.room.server_acl matching rules (event schema)."""
from __future__ import annotations

import pytest

from apps.federation.acl import server_allowed


@pytest.mark.parametrize("content, server, allowed", [
    (None, "anyone.test", True),                                       # no ACL
    ({}, "anyone.test", False),                                        # allow defaults to []
    ({"allow": ["*"]}, "anyone.test", True),
    ({"allow": ["*"], "deny": ["evil.test"]}, "evil.test", False),
    ({"allow": ["*"], "deny": ["evil.test"]}, "evil.test:8448", False),  # ports are ignored
    ({"allow": ["*"], "deny": ["*.evil.test"]}, "a.b.evil.test", False),
    ({"allow": ["*"], "deny": ["*.evil.test"]}, "evil.test", True),
    ({"allow": ["good.test"], "deny": []}, "GOOD.test", True),          # host names are case-insensitive
    ({"allow": ["good.test", "*.good.test"]}, "bad.test", False),
    ({"allow": ["?.test"]}, "a.test", True),
    ({"allow": ["?.test"]}, "ab.test", False),
    ({"allow": ["*"], "deny": ["*"]}, "anyone.test", False),            # deny wins
    ({"allow": ["*"], "allow_ip_literals": False}, "1.2.3.4", False),
    ({"allow": ["*"], "allow_ip_literals": False}, "[::1]:8448", False),
    ({"allow": ["*"], "allow_ip_literals": False}, "1.2.3.4.example", True),
    ({"allow": ["*"]}, "1.2.3.4:8448", True),                          # allow_ip_literals defaults to true
    ({"allow": ["a.test"], "deny": "not a list"}, "a.test", True),      # malformed lists are empty
    ({"allow": "a.test"}, "a.test", False),
    ({"allow": ["a.(b).test"]}, "a.(b).test", True),                    # only * and ? are special
    ({"allow": ["a.(b).test"]}, "a.b.test", False),
])
def test_server_allowed(content, server, allowed):
    assert server_allowed(content, server) is allowed
