"""`x_forwarded` listeners (Synapse's option): the client's address is taken from X-Forwarded-For only on
a listener marked so, and only when it is an address; elsewhere the header is ignored."""
from __future__ import annotations

import pytest
from django.core.cache import cache

from hsproject.config.sections import Listener

API = "/_matrix/client/v3"


def _listen(settings, *, x_forwarded: bool) -> None:
    # The test client's requests arrive on SERVER_PORT 80.
    listener = Listener(port=80, bind_addresses=("127.0.0.1",), type="http", tls=False, x_forwarded=x_forwarded,
                        resources=("client",))
    settings.HS = settings.HS.replace(listeners=(listener,))


def _seen_ip(client, forwarded: str) -> str:
    cache.clear()  # the last-seen write is throttled per device through the cache
    assert client.get(f"{API}/account/whoami", headers={"X-Forwarded-For": forwarded}).status_code == 200
    [device] = client.get(f"{API}/devices").json_body["devices"]
    return device["last_seen_ip"]


@pytest.mark.parametrize("forwarded,expected", [
    ("203.0.113.7", "203.0.113.7"),
    ("198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the proxy's own view is the right-most entry
    ("2001:db8::5", "2001:db8::5"),
    ("not an address", "127.0.0.1"),
])
def test_an_x_forwarded_listener_takes_the_proxy_s_word(alice, settings, forwarded, expected):
    _listen(settings, x_forwarded=True)
    assert _seen_ip(alice, forwarded) == expected


def test_other_listeners_ignore_the_header(alice, settings):
    _listen(settings, x_forwarded=False)
    assert _seen_ip(alice, "203.0.113.7") == "127.0.0.1"


def test_rate_limits_count_the_forwarded_address(mx, settings):
    from hsproject.config.sections import RateLimit

    _listen(settings, x_forwarded=True)
    settings.HS = settings.HS.replace(rc_login_address=RateLimit(0.001, 1))

    def login(ip):
        return mx.post(f"{API}/login", {"type": "m.login.password", "identifier": {"type": "m.id.user",
                       "user": "nobody"}, "password": "x"}, token=None, headers={"X-Forwarded-For": ip})

    assert login("203.0.113.1").status_code == 403  # wrong password, counted for .1
    assert login("203.0.113.1").status_code == 429
    assert login("203.0.113.2").status_code == 403  # another client behind the same proxy
