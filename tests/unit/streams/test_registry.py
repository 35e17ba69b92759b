"""Streams are declared once; every token stream is registered and replicated (element-hq/synapse#20080)."""
import pytest

from apps.streams import registry
from apps.streams.registry import Stream
from apps.streams.tokens import TOKEN_STREAMS
from hsproject.config.workers import MULTI_WRITER_STREAMS, SINGLE_WRITER_STREAMS


def test_known_streams_are_declared():
    assert {s.name for s in registry.all_streams()} >= set(registry.KNOWN_STREAMS)
    assert registry.get("events").writers_key == "events"


def test_every_token_key_is_a_registered_replicated_stream():
    assert set(TOKEN_STREAMS) == {s.name for s in registry.token_streams()}


def test_every_configurable_writer_key_is_a_stream():
    assert set(SINGLE_WRITER_STREAMS + MULTI_WRITER_STREAMS) <= set(registry.KNOWN_STREAMS)


def test_a_stream_name_is_declared_once_and_must_be_sql_safe():
    with pytest.raises(ValueError):
        registry.register(Stream("events", "events"))
    with pytest.raises(ValueError):
        registry.register(Stream("Bad-Name", "x"))
    with pytest.raises(KeyError):
        registry.get("nope")


def test_attach_supplies_the_fetch_function():
    s = registry.get("push_rules")
    try:
        registry.attach("push_rules", fetch_rows=lambda a, b, n: [])
        assert registry.get("push_rules").fetch_rows is not None
    finally:
        registry._replace_for_tests(s)


def test_default_notify_keys():
    k = registry.default_notify_keys({"user_id": "@a:x", "room_id": "!r:x"})
    assert k.user_ids == ("@a:x",) and k.room_ids == ("!r:x",) and k.devices == ()
    k = registry.default_notify_keys({"user_id": "@a:x", "device_id": "D"})
    assert k.devices == (("@a:x", "D"),) and k.user_ids == ()
