"""Replication: from a writer's commit to every process's stream positions and listeners.

Writer side (in the writing transaction, then after its commit):

    with transaction.atomic():
        ... write the rows ...
        position = allocate_position("receipts")            # as late as possible, inside the transaction
        ... stamp the rows with `position` ...
        on_commit_publish("receipts", position, [row, ...])  # rows as receivers will see them

    after COMMIT (transaction.on_commit):
        WriterPositions.finished(position) -> this writer's current position
        stream_positions upsert (stream, me, current)        # durable, for catch-up
        this process's ReplicationState advances, listeners (the notifier) run
        transport.publish(Message(stream, me, current, prev, rows))

    on ROLLBACK: Django drops the on-commit callback; its finalizer marks the position finished
    (abandoned) so this writer's current position is not held back by it forever.

Reader side, in every process (`ReplicationState`): messages from the transport advance the
`StreamPositions` of the stream; rows are handed to listeners only once `persisted_up_to` (the minimum
over writers) has passed them, so a listener never sees position 8 before 7 has committed (STYLE
convention 10). If a message's `prev` is above what the receiver knows of that writer, a message was
lost: the receiver reads `stream_positions` and the stream's `fetch_rows` from where it was. The transport
also asks for that catch-up on every (re)connect and periodically. The database is the source of truth;
the transport only makes things fast.

An idle writer of a multi-writer stream would hold `persisted_up_to` back; when it hears another writer
advance and has nothing in flight it claims that position too (Synapse MultiWriterIdGenerator), announced
with a position-only message.

One `ReplicationState` per process (`get_state()`); tests build several over one in-process bus to play
several processes.
"""
from __future__ import annotations

import logging
import threading
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from django.db import transaction

from . import registry, stores
from .positions import StreamPositions, WriterPositions
from .transport.base import Message, Transport

logger = logging.getLogger(__name__)

Row = dict[str, Any]
# listener(stream, instance, position, rows): `position` is the stream's new persisted-up-to position;
# `rows` the [(position, row)] now visible, in order, or None when a catch-up could not read them (the
# stream has no fetch function): treat it as "anything may have changed".
Listener = Callable[[str, str, int, "list[tuple[int, Row]] | None"], None]

FETCH_LIMIT = 500


@dataclass
class _StreamState:
    positions: StreamPositions
    delivered: int = 0                       # rows up to here were handed to listeners
    held: list[tuple[int, Row]] = field(default_factory=list)   # rows above persisted_up_to
    # Writer side, when this instance writes the stream.
    writer: WriterPositions | None = None
    # Re-entrant: an in-process echo of our own announcement may come back on the same thread.
    alloc_lock: threading.RLock = field(default_factory=threading.RLock)
    publish_lock: threading.RLock = field(default_factory=threading.RLock)
    published: int = 0                       # the current position last announced
    db_written: int = 0                      # the current position last stored in stream_positions


class _Flag:
    __slots__ = ("committed",)

    def __init__(self) -> None:
        self.committed = False


class _Allocation:
    """The on-commit callback of one allocated position; Django holds it until commit or rollback."""

    def __init__(self, state: "ReplicationState", stream: str, position: int) -> None:
        self.state = state
        self.stream = stream
        self.position = position
        self.rows: list[Row] = []
        self.flag = _Flag()

    def __call__(self) -> None:
        self.flag.committed = True
        self.state._committed(self.stream, self.position, self.rows)


def _abandon_if_rolled_back(state_ref: "weakref.ref[ReplicationState]", stream: str, position: int,
                            flag: _Flag) -> None:
    """Finalizer of an `_Allocation`: it died without its commit callback running, so the transaction
    rolled back (Django drops the callbacks of a rolled-back transaction or savepoint)."""
    state = state_ref()
    if state is not None and not flag.committed:
        try:
            state._abandoned(stream, position)
        except Exception:
            logger.exception("could not release abandoned position %s of %s", position, stream)


class ReplicationState:
    """One process's view of every stream, and its writer side for the streams it writes."""

    def __init__(self, instance_name: str, writers_of: Callable[[str], tuple[str, ...]], transport: Transport,
                 *, streams: Iterable[str] | None = None) -> None:
        self.instance_name = instance_name
        self.transport = transport
        self.origin = uuid.uuid4().hex
        self._writers_of = writers_of
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._pending: "weakref.WeakValueDictionary[tuple[str, int], _Allocation]" = weakref.WeakValueDictionary()
        self._started = False
        names = tuple(streams) if streams is not None else tuple(s.name for s in registry.all_streams())
        self._streams: dict[str, _StreamState] = {}
        for name in names:
            writers = tuple(writers_of(name))
            ss = _StreamState(positions=StreamPositions(writers=writers))
            if instance_name in writers:
                ss.writer = WriterPositions()
            self._streams[name] = ss

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> "ReplicationState":
        """Load positions from the database, announce this writer's positions, subscribe (the transport's
        subscription triggers a catch-up). Needs the database: call from a sync context."""
        if self._started:
            return self
        self._started = True
        with self._lock:
            self._load(stores.writer_positions())
        for name, ss in self._streams.items():
            if ss.writer is not None:
                self._announce_startup(name, ss)
        self.transport.subscribe(self.receive, self.resync)
        self.transport.start()
        return self

    def stop(self) -> None:
        self.transport.stop()
        self._started = False

    def _load(self, db: dict[str, dict[str, int]]) -> None:
        for name, ss in self._streams.items():
            for inst, pos in db.get(name, {}).items():
                if inst in ss.positions.writers:
                    ss.positions.advance(inst, pos)
            ss.delivered = max(ss.delivered, ss.positions.persisted_up_to())

    def _announce_startup(self, name: str, ss: _StreamState) -> None:
        """A writer (re)starting has nothing in flight: it owns everything allocated so far (what its previous
        incarnation committed is in the tables; what it had in flight was rolled back)."""
        assert ss.writer is not None
        with ss.alloc_lock, ss.publish_lock:
            highest = max(stores.highest_allocated(name), ss.positions.current_for(self.instance_name))
            before = ss.writer.current
            current = ss.writer.idle_advance(highest)
            if current > before or current > ss.db_written:
                self._write_db(name, ss, current)
                self._announce(name, ss, current, ())

    # -- writer side -----------------------------------------------------------------------------------
    def writes(self, stream: str) -> bool:
        return self._stream(stream).writer is not None

    def writer_current(self, stream: str) -> int:
        """This writer's current position of `stream` (nothing of its own in flight at or below it)."""
        writer = self._stream(stream).writer
        if writer is None:
            raise RuntimeError(f"instance {self.instance_name!r} does not write the {stream!r} stream")
        return writer.current

    def allocate(self, stream: str) -> int:
        conn = transaction.get_connection()
        if not conn.in_atomic_block:
            raise RuntimeError("allocate_position must be called inside the writing transaction (atomic block)")
        ss = self._stream(stream)
        if ss.writer is None:
            raise RuntimeError(f"instance {self.instance_name!r} does not write the {stream!r} stream; "
                               f"its writers are {ss.positions.writers}: forward the request")
        with ss.alloc_lock:
            floor = max(ss.writer.highest, ss.positions.max_position())
            position = stores.next_position(stream, floor)
            ss.writer.started(position)
        alloc = _Allocation(self, stream, position)
        fin = weakref.finalize(alloc, _abandon_if_rolled_back, weakref.ref(self), stream, position, alloc.flag)
        fin.atexit = False
        self._pending[(stream, position)] = alloc
        transaction.on_commit(alloc, robust=True)
        del alloc  # Django's callback list must hold the only strong reference (see the finalizer)
        from .relay import note_allocation

        note_allocation(stream, position)  # a relayed request reports what it wrote (read-after-write)
        return position

    def add_rows(self, stream: str, position: int, rows: Iterable[Row]) -> None:
        alloc = self._pending.get((stream, position))
        if alloc is None or alloc.flag.committed:
            raise ValueError(f"position {position} of {stream!r} was not allocated by allocate_position in "
                             "the current transaction")
        alloc.rows.extend(dict(r) for r in rows)

    def _committed(self, stream: str, position: int, rows: list[Row]) -> None:
        ss = self._stream(stream)
        assert ss.writer is not None
        with ss.publish_lock:
            ss.writer.finished(position)
            current = self._claim_idle(ss)
            if current > ss.db_written:
                self._write_db(stream, ss, current)
            self._announce(stream, ss, current, tuple((position, r) for r in rows))

    def _abandoned(self, stream: str, position: int) -> None:
        ss = self._stream(stream)
        assert ss.writer is not None
        with ss.publish_lock:
            before = ss.writer.current
            ss.writer.finished(position)
            current = self._claim_idle(ss)
            if current > before:
                # No database write here: we may be inside an outer transaction that is being rolled back.
                # The next commit or `tick()` stores the position; the message makes it known now.
                self._announce(stream, ss, current, ())

    def _claim_idle(self, ss: _StreamState) -> int:
        """With nothing in flight, this writer owns every position up to the highest any writer has reached
        (Synapse MultiWriterIdGenerator). Only if no allocation of ours is between nextval and `started`,
        which the allocation lock guarantees; never wait for it (lock order is alloc -> publish)."""
        assert ss.writer is not None
        if not ss.writer.in_flight and ss.alloc_lock.acquire(blocking=False):
            try:
                ss.writer.idle_advance(ss.positions.max_position())
            finally:
                ss.alloc_lock.release()
        return ss.writer.current

    def _write_db(self, stream: str, ss: _StreamState, current: int) -> None:
        try:
            stores.upsert_writer_position(stream, self.instance_name, current)
            ss.db_written = max(ss.db_written, current)
        except Exception:
            logger.exception("could not store %s's position %s of %s; retried by tick()", self.instance_name,
                             current, stream)

    def _announce(self, stream: str, ss: _StreamState, current: int, rows: tuple[tuple[int, Row], ...]) -> None:
        """Apply locally, then publish (caller holds ss.publish_lock so messages leave in order)."""
        msg = Message(stream, self.instance_name, current, ss.published, rows, self.origin)
        with self._lock:
            self._apply(msg)
        ss.published = max(ss.published, current)
        self.transport.publish(msg)

    def _idle_advance(self, stream: str, seen: int) -> None:
        ss = self._stream(stream)
        if ss.writer is None or seen <= ss.writer.current:
            return
        with ss.alloc_lock:  # no nextval in progress: any later allocation is above `seen`
            with ss.publish_lock:
                before = ss.writer.current
                current = ss.writer.idle_advance(seen)
                if current > before:
                    self._write_db(stream, ss, current)
                    self._announce(stream, ss, current, ())

    def tick(self) -> None:
        """Periodic duty: store positions that could not be stored when they moved."""
        for name, ss in self._streams.items():
            if ss.writer is not None:
                with ss.publish_lock:
                    if ss.writer.current > ss.db_written:
                        self._write_db(name, ss, ss.writer.current)

    # -- reader side -----------------------------------------------------------------------------------
    def add_listener(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
        return remove

    def persisted_up_to(self, stream: str) -> int:
        with self._lock:
            return self._stream(stream).positions.persisted_up_to()

    def positions(self, stream: str) -> dict[str, int]:
        """Each writer's current position as this process knows it."""
        with self._lock:
            ss = self._stream(stream)
            return {w: ss.positions.current_for(w) for w in ss.positions.writers}

    def current_positions(self) -> dict[str, int]:
        with self._lock:
            return {name: ss.positions.persisted_up_to() for name, ss in self._streams.items()}

    def receive(self, msg: Message) -> None:
        """Transport callback (any thread)."""
        if msg.origin == self.origin:
            return  # our own echo: applied before it was published
        ss = self._streams.get(msg.stream)
        if ss is None:
            logger.warning("replication message for unknown stream %r ignored", msg.stream)
            return
        if msg.instance not in ss.positions.writers:
            logger.warning("replication message from %r, not a configured writer of %s, ignored", msg.instance,
                           msg.stream)
            return
        with self._lock:
            if msg.prev > ss.positions.current_for(msg.instance):
                logger.info("gap in %s from %s (know %s, message follows %s): catching up from the database",
                            msg.stream, msg.instance, ss.positions.current_for(msg.instance), msg.prev)
                self._catch_up(msg.stream, stores.writer_positions(msg.stream).get(msg.stream, {}), msg.instance)
            self._apply(msg)
        # Outside self._lock: takes the writer locks (lock order alloc -> publish -> self._lock).
        self._idle_advance(msg.stream, msg.position)

    def resync(self) -> None:
        """Compare every stream with `stream_positions` and catch up (transport (re)connect, periodic)."""
        self.tick()
        db = stores.writer_positions()
        with self._lock:
            for name in self._streams:
                self._catch_up(name, db.get(name, {}), "")

    def _apply(self, msg: Message) -> None:
        ss = self._streams[msg.stream]
        ss.positions.advance(msg.instance, msg.position)
        for pos, row in msg.rows:
            if pos > ss.delivered:
                ss.held.append((pos, row))
        self._release(msg.stream, ss, msg.instance)

    def _release(self, stream: str, ss: _StreamState, instance: str) -> None:
        up_to = ss.positions.persisted_up_to()
        if up_to <= ss.delivered:
            return
        ready = sorted((h for h in ss.held if h[0] <= up_to), key=lambda h: h[0])
        ss.held = [h for h in ss.held if h[0] > up_to]
        ss.delivered = up_to
        self._notify(stream, instance, up_to, ready)

    def _catch_up(self, stream: str, db_positions: dict[str, int], instance: str) -> None:
        ss = self._streams[stream]
        trial = StreamPositions(writers=ss.positions.writers, positions=dict(ss.positions.positions))
        for inst, pos in db_positions.items():
            if inst in trial.writers:
                trial.advance(inst, pos)
        up_to = trial.persisted_up_to()
        if up_to <= ss.delivered:
            ss.positions = trial
            return
        fetch = registry.get(stream).fetch_rows
        rows: list[tuple[int, Row]] | None = None
        if fetch is not None:
            rows = _fetch_all(fetch, ss.delivered, up_to)  # may raise: then nothing has changed
        ss.positions = trial
        ss.held = [h for h in ss.held if h[0] > up_to]
        ss.delivered = up_to
        self._notify(stream, instance, up_to, rows)

    def _notify(self, stream: str, instance: str, position: int, rows: list[tuple[int, Row]] | None) -> None:
        for listener in list(self._listeners):
            try:
                listener(stream, instance, position, rows)
            except Exception:
                logger.exception("replication listener %r failed on %s@%s", listener, stream, position)

    def _stream(self, stream: str) -> _StreamState:
        try:
            return self._streams[stream]
        except KeyError:
            raise KeyError(f"unknown stream {stream!r}") from None


def _fetch_all(fetch: registry.FetchRows, from_pos: int, to_pos: int) -> list[tuple[int, Row]]:
    out: list[tuple[int, Row]] = []
    while from_pos < to_pos:
        page = fetch(from_pos, to_pos, FETCH_LIMIT)
        out.extend(page)
        if len(page) < FETCH_LIMIT:
            break
        from_pos = page[-1][0]
    return out


# -- the process's state ---------------------------------------------------------------------------------
_state: ReplicationState | None = None
_state_lock = threading.Lock()


def build_transport() -> Transport:
    from django.conf import settings

    hs = settings.HS
    if hs.redis.enabled:
        from .transport.redis import RedisTransport
        # Pub/sub channels ignore the Redis database number: put it in the channel name so homeservers
        # (or test runs) sharing one Redis on different `redis.dbid`s do not hear each other.
        prefix = getattr(settings, "HS_REPLICATION_CHANNEL_PREFIX", None) or f"hs:{hs.redis.dbid}:"
        return RedisTransport(hs.redis.url, channel_prefix=prefix, name=hs.workers.instance_name)
    from .transport.inproc import InProcTransport
    return InProcTransport()


_process_listeners: list[Listener] = []


def add_process_listener(listener: Listener) -> None:
    """Attach `listener` to this process's replication state, whenever it is built (apps call this from
    `AppConfig.ready()`, where the state must not be started yet)."""
    if listener not in _process_listeners:
        _process_listeners.append(listener)
    if _state is not None:
        _state.add_listener(listener)


def get_state() -> ReplicationState:
    """This process's replication state, started on first use (from a sync context: it reads the database)
    and wired to the process notifier and the listeners of `add_process_listener`."""
    global _state
    with _state_lock:
        if _state is None:
            from hsproject import instance

            from . import notifier
            state = ReplicationState(instance.name(), instance.writers_of, build_transport())
            state.add_listener(notifier.replication_listener(notifier.get_notifier()))
            for listener in _process_listeners:
                state.add_listener(listener)
            state.start()  # may raise (database down): then the next call tries again
            _state = state
        return _state


def running_state() -> ReplicationState | None:
    """This process's replication state if it has started one, without starting it (for observers such as
    the metrics endpoint, which must not subscribe to Redis or read the database by looking)."""
    return _state


def start_at_process_start() -> None:
    """Scaled mode: join replication when the process starts, not at its first request. An idle writer
    of a multi-writer stream must hear the others and advance with them, or every reader's
    persisted-up-to position waits for its first write."""
    from django.conf import settings

    if settings.HS.embedded:
        return

    def run() -> None:
        import time

        from django.db import close_old_connections

        delay = 0.5
        while True:
            try:
                get_state()
                return
            except Exception:  # noqa: BLE001 - retried: the database or Redis may still be starting
                logger.exception("replication could not start; retrying in %.1fs", delay)
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                close_old_connections()

    threading.Thread(target=run, name="replication-start", daemon=True).start()


def set_state_for_tests(state: ReplicationState | None) -> ReplicationState | None:
    """Replace the process state (None: rebuild on next use); returns the previous one, not stopped."""
    global _state
    with _state_lock:
        old, _state = _state, state
        return old


def allocate_position(stream: str, *, state: ReplicationState | None = None) -> int:
    """A new position of `stream` for a row this transaction writes. Call inside the writing transaction,
    as late as possible (just before the row is inserted); this instance must be a writer of the stream.
    After the commit the position is published; after a rollback it is released."""
    return (state or get_state()).allocate(stream)


def on_commit_publish(stream: str, position: int, rows: Iterable[Row], *, state: ReplicationState | None = None) -> None:
    """Attach `rows` (JSON-able dicts) to the publication of `position`, which happens on commit: the
    position is marked finished in this writer, stored in `stream_positions`, applied to this process's
    positions and listeners, and published on the transport (Redis when configured, else in-process).
    `position` must come from `allocate_position` in the same transaction."""
    (state or get_state()).add_rows(stream, position, rows)


def persisted_up_to(stream: str) -> int:
    return get_state().persisted_up_to(stream)
