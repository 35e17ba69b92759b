"""apps.federation.edus: the EDU handler registry."""
from __future__ import annotations

from apps.federation import edus


def test_dispatch_to_registered_handler_only():
    seen = []
    edus.register_edu_handler("org.example.a", lambda origin, content: seen.append((origin, content)))
    try:
        assert edus.dispatch("o.test", {"edu_type": "org.example.a", "content": {"x": 1}}) is True
        assert edus.dispatch("o.test", {"edu_type": "org.example.b", "content": {"x": 2}}) is False
        assert edus.dispatch("o.test", {"edu_type": "org.example.a", "content": "not an object"}) is False
        assert edus.dispatch("o.test", ["not", "an", "edu"]) is False
        assert edus.dispatch("o.test", {"content": {}}) is False
        assert seen == [("o.test", {"x": 1})]
    finally:
        edus.unregister_edu_handler("org.example.a")
    assert edus.handler_for("org.example.a") is None


def test_failing_handler_does_not_raise():
    def boom(origin, content):
        raise RuntimeError("handler bug")

    edus.register_edu_handler("org.example.boom", boom)
    try:
        assert edus.dispatch("o.test", {"edu_type": "org.example.boom", "content": {}}) is False
    finally:
        edus.unregister_edu_handler("org.example.boom")
