"""The rules of `/sync` (client-server API, "Syncing") and of filters ("Filtering").

`sync(requester, params, now)` computes one response between `params.since` (None: initial sync) and
`now`, a `StreamToken` whose `events` position is this process's persisted-up-to position (read before
any row, so every event at or below it is committed and visible): the response's `next_batch` is `now`,
and the next incremental sync starts exactly there, so nothing is returned twice or skipped.

Per room, by the user's membership as of `now`:

- `join`: `timeline` — the last `limit` events in (since, now] (all of them up to `now` on an initial
  sync, a full-state sync or a room joined since `since`), with `limited` and `prev_batch`; `state` — the
  full state at the start of the timeline for those, else the state that changed between `since` and
  the start of the timeline (what the client has not seen in a timeline); lazy-loaded members keep only
  the member events of the timeline's senders (and the user's own). `summary`, and the sections that
  other streams fill later (`ephemeral`, `account_data`, `unread_notifications`).
- `invite` / `knock`: the stripped state of the room (create, join rules, name, avatar, canonical alias,
  encryption) and the membership event itself, when it happened since `since` (or on an initial sync).
- `leave` (and `ban`): rooms left since `since` (or every left room on an initial sync with
  `include_leave`), their timeline up to the leave; a rejected invite shows only the leave event.

`prev_batch` is a room token of the `s<position>` form (the position just before the timeline's first
event); it parses as a `StreamToken` too, so `/messages?from=` accepts it either way.
"""
from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.rooms import serialize, state_store
from apps.rooms import stores as room_stores
from apps.rooms.events import Event, StateKey
from apps.streams.tokens import StreamToken

from . import stores
from .filters import SyncFilter, only_fields, parse_filter
from .lazy_members import SentMembers

# Spec: client-server API, "Stripped state": the state a user sees of a room they are invited to.
STRIPPED_STATE_TYPES = ("m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
                        "m.room.canonical_alias", "m.room.encryption", "m.room.topic")


# --- filters ---------------------------------------------------------------------------------------------

def _own_filter_user(requester, user_id: str) -> None:
    if user_id != requester.user_id:
        raise MatrixError(Codes.FORBIDDEN, "Cannot use filters of other users", 403)


def define_filter(requester, user_id: str, body: dict) -> str:
    """POST /user/{userId}/filter: the filter's id."""
    _own_filter_user(requester, user_id)
    parse_filter(body)
    return stores.store_filter(user_id, body)


def get_filter(requester, user_id: str, filter_id: str) -> dict:
    """GET /user/{userId}/filter/{filterId}."""
    _own_filter_user(requester, user_id)
    fid = _filter_id(filter_id)
    stored = stores.get_filter(user_id, fid) if fid is not None else None
    if stored is None:
        raise MatrixError(Codes.NOT_FOUND, "No such filter", 404)
    return stored


def _filter_id(raw: str) -> int | None:
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def resolve_sync_filter(requester, raw: str | None) -> SyncFilter:
    """`/sync?filter=`: a stored filter's id, or a filter object as JSON."""
    if raw is None or raw == "":
        return SyncFilter()
    if raw.lstrip().startswith("{"):
        import json
        try:
            obj = json.loads(raw)
        except ValueError:
            raise MatrixError(Codes.NOT_JSON, "The filter parameter is not valid JSON", 400) from None
        return parse_filter(obj)
    fid = _filter_id(raw)
    stored = stores.get_filter(requester.user_id, fid) if fid is not None else None
    if stored is None:
        raise MatrixError(Codes.INVALID_PARAM, f"Unknown filter {raw!r}", 400)
    return parse_filter(stored)


# --- sync ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyncParams:
    filter: SyncFilter
    since: StreamToken | None = None
    full_state: bool = False
    # `set_presence` of the request (presence's request hook acts on it).
    set_presence: str = "online"


def _now_ms() -> int:
    return int(time.time() * 1000)


class _Ctx:
    def __init__(self, requester, params: SyncParams, now: StreamToken):
        self.requester = requester
        self.user_id = requester.user_id
        self.params = params
        self.filter = params.filter
        self.now = now
        self.up_to = now.position("events")
        self.since = params.since.position("events") if params.since is not None else None
        self.now_ms = _now_ms()
        fmt = "federation" if self.filter.event_format == "federation" else "client_without_room_id"
        self.format = fmt
        self._ignored: frozenset[str] | None = None

    @property
    def ignored(self) -> frozenset[str]:
        """The users the syncing user ignores (`m.ignored_user_list`), read once per sync, when needed."""
        if self._ignored is None:
            from apps.account_data.stores import ignored_users

            self._ignored = ignored_users(self.user_id)
        return self._ignored

    def timeline_allows(self, event: Event) -> bool:
        """The timeline filter, and no non-state event of an ignored user (spec: "Ignoring Users")."""
        if self.ignored and event.sender in self.ignored and not event.is_state():
            return False
        return self.filter.room.timeline.allows_event(event)

    def serialize(self, event: Event) -> dict[str, Any]:
        d = serialize.client_event(event, now_ms=self.now_ms, requester_device_id=self.requester.device_id,
                                   requester_user_id=self.user_id, format=self.format)
        if self.filter.event_fields is not None:
            d = only_fields(d, self.filter.event_fields)
        return d


def empty_response(next_batch: str) -> dict[str, Any]:
    return {
        "next_batch": next_batch,
        "rooms": {"join": {}, "invite": {}, "leave": {}, "knock": {}},
        "presence": {"events": []},
        "account_data": {"events": []},
        "to_device": {"events": []},
        "device_lists": {"changed": [], "left": []},
        "device_one_time_keys_count": {},
        "device_unused_fallback_key_types": [],
    }


def has_updates(response: dict[str, Any]) -> bool:
    """Whether a long-poll has something to answer with (the per-device key counts are always present
    and are not, on their own, news)."""
    if any(response["rooms"][k] for k in ("join", "invite", "leave", "knock")):
        return True
    if any(response[k]["events"] for k in ("presence", "account_data", "to_device")):
        return True
    return bool(response["device_lists"]["changed"] or response["device_lists"]["left"])


def current_token(state) -> StreamToken:
    """The token of what this process may read now: every stream at its persisted-up-to position. The
    events field is the plain minimum over writers: rows are read up to it and no further."""
    from apps.streams.tokens import TOKEN_STREAMS

    return StreamToken({s: state.persisted_up_to(s) for s in TOKEN_STREAMS})


def sync(requester, params: SyncParams, now: StreamToken) -> dict[str, Any]:
    """The rooms part, then every registered section (`apps.sync.sections`) of the other streams."""
    from . import sections

    ctx = _Ctx(requester, params, now)
    response = empty_response(now.to_string())
    memberships = stores.memberships_at(ctx.user_id, ctx.up_to)
    joined = [r for r, (m, _, _) in memberships.items() if m == "join" and params.filter.room.allows_room(r)]
    if ctx.since is None or ctx.since < ctx.up_to or params.full_state:
        _rooms_part(ctx, response, memberships)
    section_ctx = sections.SyncContext(requester=requester, since=params.since, now=now,
                                       full_state=params.full_state, filter=params.filter,
                                       joined_rooms=joined, response=response)
    sections.run_fills(section_ctx)
    if section_ctx.token_caps:  # a section sent only part of its stream: resume from there next time
        response["next_batch"] = section_ctx.next_batch().to_string()
    return response


def _rooms_part(ctx: _Ctx, response: dict[str, Any], memberships: dict) -> None:
    params = ctx.params
    rooms = response["rooms"]
    changes = stores.membership_changes(ctx.user_id, ctx.since, ctx.up_to) if ctx.since is not None else {}
    room_filter = ctx.filter.room
    memberships = {r: m for r, m in memberships.items() if room_filter.allows_room(r)}

    joined = [r for r, (m, _, _) in memberships.items() if m == "join"]
    if ctx.since is None or params.full_state:
        active = set(joined)
    else:
        active = stores.rooms_with_events(joined, ctx.since, ctx.up_to) | {r for r in joined if r in changes}
    for room_id in joined:
        if room_id not in active:
            continue
        newly_joined = ctx.since is not None and any(m == "join" for m, _, _ in changes.get(room_id, ())) \
            and _was_not_joined_at_since(ctx, room_id, changes[room_id])
        entry = _joined_room(ctx, room_id, full=ctx.since is None or params.full_state or newly_joined)
        if entry is not None:
            rooms["join"][room_id] = entry

    for room_id, (membership, event_id, pos) in memberships.items():
        if membership in ("invite", "knock"):
            if ctx.since is not None and not params.full_state and room_id not in changes:
                continue
            if membership == "invite" and ctx.ignored and _sender_of(event_id) in ctx.ignored:
                continue  # spec ("Ignoring Users"): invites from ignored users are not sent to the client
            key, section = ("invite_state", "invite") if membership == "invite" else ("knock_state", "knock")
            rooms[section][room_id] = {key: {"events": _stripped_state(ctx, event_id)}}
        elif membership in ("leave", "ban"):
            if ctx.since is None or params.full_state:
                if not room_filter.include_leave:
                    continue
            elif room_id not in changes:
                continue
            entry = _left_room(ctx, room_id, event_id, pos, changes.get(room_id))
            if entry is not None:
                rooms["leave"][room_id] = entry


def _sender_of(event_id: str) -> str | None:
    event = room_stores.get_event(event_id)
    return event.sender if event is not None else None


def _was_not_joined_at_since(ctx: _Ctx, room_id: str, room_changes: list[tuple[str, str, int]]) -> bool:
    """A join since `since` is a new join unless the user was already joined at `since` (a profile change)."""
    before = room_stores.get_event(room_changes[0][1])
    prev = before.unsigned.get("prev_content", {}).get("membership") if before is not None else None
    if prev is not None:
        return prev != "join"
    state = _state_at(room_id, ctx.since)
    member_id = state.get(("m.room.member", ctx.user_id))
    member = room_stores.get_event(member_id) if member_id else None
    return member is None or member.membership != "join"


def _state_at(room_id: str, position: int) -> dict[StateKey, str]:
    last = stores.last_event_at(room_id, position)
    if last is None:
        return {}
    return state_store.state_after_event(last) or {}


def _state_allows(ctx: _Ctx, ev: Event) -> bool:
    return ctx.filter.room.state.allows_event(ev)


def _room_timeline(ctx: _Ctx, room_id: str, since: int, up_to: int) -> tuple[list[Event], bool, dict]:
    """History visibility (`apps.rooms.visibility`) applies: a user joined to a `joined`-visibility room
    does not see what was said before they joined."""
    from apps.rooms.visibility import filter_events_for_user

    events, limited = stores.timeline(room_id, since, up_to, ctx.filter.timeline_limit,
                                      ctx.timeline_allows,
                                      lambda page: filter_events_for_user(ctx.user_id, page))
    start = (events[0].internal.stream_ordering or 1) - 1 if events else up_to
    if limited:
        # Spec ("Aggregations of child events"): bundled in /sync when the timeline is `limited`.
        serialize.bundle_aggregations(events, ctx.user_id)
    section = {"events": [ctx.serialize(e) for e in events], "limited": limited, "prev_batch": f"s{start}"}
    return events, limited, section


def _room_state(ctx: _Ctx, room_id: str, timeline: list[Event], up_to: int, since: int | None) -> list[dict]:
    """State at the start of the timeline: all of it when `since` is None, else what changed since `since`."""
    if timeline:
        start_state = state_store.state_before_event(timeline[0].event_id) or {}
    else:
        start_state = _state_at(room_id, up_to)
    if since is not None:
        before = _state_at(room_id, since)
        start_state = {k: v for k, v in start_state.items() if before.get(k) != v}
    in_timeline = {e.event_id for e in timeline}
    wanted = {k: v for k, v in start_state.items() if v not in in_timeline}
    sent_members = None
    if ctx.filter.lazy_load_members:
        senders = {e.sender for e in timeline} | {ctx.user_id}
        if since is not None:
            # The member events of the timeline's senders, even unchanged since `since`, unless this
            # device is known to hold them already (apps.sync.lazy_members).
            full = state_store.state_before_event(timeline[0].event_id) or {} if timeline else {}
            for s in senders:
                eid = full.get(("m.room.member", s))
                if eid is not None and eid not in in_timeline:
                    wanted[("m.room.member", s)] = eid
        wanted = {k: v for k, v in wanted.items() if k[0] != "m.room.member" or k[1] in senders}
        if not ctx.filter.include_redundant_members and (timeline or since is None):
            sent_members = SentMembers(ctx.user_id, ctx.requester.device_id, room_id, reset=since is None)
            if since is not None:
                wanted = {k: v for k, v in wanted.items()
                          if k[0] != "m.room.member" or not sent_members.already_has(k[1], v, since)}
    events = room_stores.get_events(wanted.values())
    out = [events[eid] for eid in wanted.values() if eid in events]
    out = [e for e in out if _state_allows(ctx, e)]
    out.sort(key=lambda e: (e.internal.stream_ordering or 0, e.event_id))
    if sent_members is not None:
        for e in [*out, *timeline]:
            if e.type == "m.room.member" and e.state_key is not None:
                sent_members.record(e.state_key, e.event_id, ctx.up_to)
        sent_members.save()
    return [ctx.serialize(e) for e in out]


def _joined_room(ctx: _Ctx, room_id: str, *, full: bool) -> dict[str, Any] | None:
    """`full`: the whole state at the timeline's start (initial sync, full_state, a room joined since
    `since`); else the state changed since `since`. The timeline is always the events since `since`."""
    timeline, _, section = _room_timeline(ctx, room_id, ctx.since or 0, ctx.up_to)
    since = None if full else ctx.since
    state = _room_state(ctx, room_id, timeline, ctx.up_to, since)
    if since is not None and not timeline and not state:
        return None
    joined, invited, heroes = stores.member_summary(room_id, ctx.user_id, ctx.up_to)
    entry: dict[str, Any] = {
        "timeline": section,
        "state": {"events": state},
        "summary": {"m.heroes": heroes, "m.joined_member_count": joined, "m.invited_member_count": invited},
        "ephemeral": {"events": []},
        "account_data": {"events": []},
        "unread_notifications": {"highlight_count": 0, "notification_count": 0},
    }
    if ctx.filter.room.timeline.unread_thread_notifications:
        entry["unread_thread_notifications"] = {}
    return entry


def _left_room(ctx: _Ctx, room_id: str, leave_id: str, leave_pos: int,
               room_changes: list[tuple[str, str, int]] | None) -> dict[str, Any] | None:
    leave = room_stores.get_event(leave_id)
    if leave is None:
        return None
    prev = leave.unsigned.get("prev_content", {}).get("membership")
    if prev is None:
        before = state_store.state_before_event(leave_id) or {}
        prev_ev = room_stores.get_event(before.get(("m.room.member", ctx.user_id), "")) \
            if before.get(("m.room.member", ctx.user_id)) else None
        prev = prev_ev.membership if prev_ev is not None else None
    if prev != "join":
        # A rejected invite, a retracted knock, or a ban of a non-member: only the membership event.
        return {"timeline": {"events": [ctx.serialize(leave)], "limited": False,
                             "prev_batch": f"s{leave_pos - 1}"},
                "state": {"events": []}, "account_data": {"events": []}}
    since = ctx.since if ctx.since is not None and not ctx.params.full_state else None
    timeline, _, section = _room_timeline(ctx, room_id, since or 0, leave_pos)
    state = _room_state(ctx, room_id, timeline, leave_pos, since)
    return {"timeline": section, "state": {"events": state}, "account_data": {"events": []}}


def _stripped(event: Event) -> dict[str, Any]:
    return {"content": event.content, "sender": event.sender, "state_key": event.state_key, "type": event.type}


def _stripped_state(ctx: _Ctx, membership_event_id: str) -> list[dict[str, Any]]:
    """Stripped state of the room at the invite (or knock), then the membership event itself."""
    member = room_stores.get_event(membership_event_id)
    if member is None:
        return []
    given = member.unsigned.get("invite_room_state") or member.unsigned.get("knock_room_state")
    out: list[dict[str, Any]] = []
    if isinstance(given, list):  # a remote invite carries the inviting server's view of the room
        out = [s for s in given if isinstance(s, dict)]
    else:
        state = state_store.state_after_event(membership_event_id) or {}
        wanted = [state[(t, "")] for t in STRIPPED_STATE_TYPES if (t, "") in state]
        sender_member = state.get(("m.room.member", member.sender))
        if sender_member is not None and member.sender != member.state_key:
            wanted.append(sender_member)
        events = room_stores.get_events(wanted)
        out = [_stripped(events[eid]) for eid in wanted if eid in events]
    out.append(_stripped(member) | {"event_id": member.event_id, "origin_server_ts": member.origin_server_ts})
    return out


def wait_keys(user_id: str, device_id: str | None, up_to: int) -> list:
    """The notifier keys a long-poll of this user waits on: the user (invites, joins), the rooms they are
    joined to as of `up_to`, their device (to-device messages)."""
    from apps.streams.notifier import keys_for

    rooms = [r for r, (m, _, _) in stores.memberships_at(user_id, up_to).items() if m == "join"]
    return keys_for([user_id], rooms, [(user_id, device_id)] if device_id else [])


def token_at_least(current: StreamToken, since: StreamToken | None) -> StreamToken:
    """`current`, but never behind `since` (a token from a process further on): next_batch never goes back."""
    if since is None:
        return current
    from apps.streams.tokens import TOKEN_STREAMS

    return StreamToken({s: max(current.position(s), since.position(s)) for s in TOKEN_STREAMS})


_pool_connections: "weakref.WeakSet" = weakref.WeakSet()


def db_call(fn):
    """`fn` as a coroutine function run in the event loop's shared thread pool (`thread_sensitive=False`).

    Django gives each ASGI request its own thread for thread-sensitive calls, alive until the request
    ends: the database work of a long-poll runs in pool threads instead, so an idle long-poll holds no
    database connection. Each call recycles its thread's connection as a request would (`CONN_MAX_AGE`)."""
    from asgiref.sync import sync_to_async
    from django.db import close_old_connections, connections

    def call(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()
            for conn in connections.all(initialized_only=True):
                _pool_connections.add(conn)
    return sync_to_async(call, thread_sensitive=False)


def close_pool_connections() -> None:
    """Close the database connections pool threads keep between calls (test teardown, shutdown)."""
    for conn in list(_pool_connections):
        raw = getattr(conn, "connection", None)
        if raw is not None:
            try:
                raw.close()
            except Exception:  # noqa: BLE001 - closing what may already be gone
                pass


def sync_once(requester, params: SyncParams, state, *, want_keys: bool) -> tuple[dict[str, Any], StreamToken, list]:
    """One computation at this process's current position; with the notifier keys to wait on when it found
    nothing and `want_keys`."""
    now = token_at_least(current_token(state), params.since)
    response = sync(requester, params, now)
    keys = wait_keys(requester.user_id, requester.device_id, now.position("events")) \
        if want_keys and not has_updates(response) else []
    return response, now, keys


async def sync_and_wait(requester, params: SyncParams, timeout_ms: int) -> dict[str, Any]:
    """`/sync`: compute; when an incremental sync finds nothing, wait on the notifier (no thread held, no
    database connection held) until something concerning the user moves past the token, or the timeout."""
    import asyncio
    from dataclasses import replace

    from apps.streams import replication
    from apps.streams.notifier import get_notifier

    state = await db_call(replication.get_state)()
    can_wait = params.since is not None and not params.full_state and timeout_ms > 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_ms / 1000
    while True:
        response, now, keys = await db_call(sync_once)(requester, params, state, want_keys=can_wait)
        remaining = deadline - loop.time()
        if not can_wait or has_updates(response) or remaining <= 0:
            return response
        changed = await get_notifier().wait_for_change(keys, now.since_positions(), remaining)
        # Nothing concerned the user up to `now`: carry on from there.
        params = replace(params, since=now)
        if not changed:
            can_wait = False  # the timeout: one last look, then answer
