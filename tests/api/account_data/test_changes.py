"""StreamChanges (apps.account_data.changes): certain only about what it heard; unsure otherwise."""
from __future__ import annotations

from apps.account_data.changes import StreamChanges


class _State:
    def __init__(self, at: int):
        self.at = at
        self.listeners = []

    def add_listener(self, fn):
        self.listeners.append(fn)

    def persisted_up_to(self, stream):
        return self.at


def _changes(monkeypatch, at=10, **kw):
    from apps.streams import replication

    state = _State(at)
    monkeypatch.setattr(replication, "get_state", lambda: state)
    c = StreamChanges("s", lambda row: row.get("k"), **kw)
    c.may_have_changed("x", 0, 1)  # starts listening
    return c, state


def test_heard_rows_decide(monkeypatch):
    c, state = _changes(monkeypatch)
    state.listeners[0]("s", "main", 12, [(11, {"k": "a"}), (12, {"k": "b"})])
    assert c.may_have_changed("a", 10, 12) and c.may_have_changed("b", 11, 12)
    assert not c.may_have_changed("a", 11, 12)
    assert not c.may_have_changed("z", 10, 12)
    state.listeners[0]("other", "main", 50, [(50, {"k": "z"})])  # another stream: ignored
    assert not c.may_have_changed("z", 10, 12)


def test_unsure_cases(monkeypatch):
    c, state = _changes(monkeypatch, max_keys=2)
    assert c.may_have_changed("a", 5, 10)  # before it started listening
    assert c.may_have_changed("a", 10, 11)  # not heard up to `now` yet
    state.listeners[0]("s", "main", 13, [(11, {"k": "a"}), (12, {"k": "b"}), (13, {"k": "c"})])
    assert c.may_have_changed("a", 10, 13)  # evicted: unsure from before 11
    assert not c.may_have_changed("a", 11, 13)
    state.listeners[0]("s", "main", 20, None)  # a catch-up without rows
    assert c.may_have_changed("zz", 13, 20)
    assert not c.may_have_changed("zz", 20, 20)
