"""apps.core.process_start: what a serving process starts at once, and the writers' loops it starts."""
from __future__ import annotations

import threading

from apps.core import process_start


def test_run_all_calls_every_starter_even_after_a_failure(monkeypatch):
    called = threading.Event()

    def broken():
        raise RuntimeError("boom")

    # Only this test's starters: the apps' own (writers' loops, the local beat) must not start in the
    # test process.
    monkeypatch.setattr(process_start, "_starters", {})
    process_start.register("zz-broken", broken)
    process_start.register("zz-ok", called.set)
    process_start.run_all()
    assert called.wait(5)


def test_the_apps_register_their_starters():
    assert {"typing", "presence", "local-beat"} <= set(process_start._starters)


def test_the_typing_and_presence_writers_start_their_loops(db):
    from apps.presence.apps import _start_on_writer as start_presence
    from apps.presence.loop import loop as presence_loop
    from apps.typing.apps import _start_on_writer as start_typing
    from apps.typing.timeouts import loop as typing_loop

    assert {"typing", "presence"} <= set(process_start._starters)
    try:
        start_typing()
        start_presence()
        assert typing_loop().running and presence_loop().running
    finally:
        typing_loop().stop()
        presence_loop().stop()
