"""Bundled aggregations (client-server API, "Aggregations of child events"): `unsigned.m.relations`
of the events served by /messages, /context, /event, /relations, /threads, /search and (limited
timelines of) /sync, registered with `apps.rooms.serialize.register_bundler`.

    m.thread     {latest_event, count, current_user_participated}        threading.md
    m.replace    the most recent valid replacement event                  event_replacements.md (v1.7+)
    m.reference  {chunk: [{event_id}, ...]}                               reference_relations.md

State events get none (the spec's warning). `m.replace` is not bundled with a redacted original, and a
replacement counts only when valid: same room, same sender, same type, not a state event, the
original not itself an edit, and (unless encrypted) an object `m.new_content`. The most recent one is
the greatest (`origin_server_ts`, `event_id`). The thread's `latest_event` is the newest child the user
may see (history visibility), carrying its own aggregations (edits, references) in turn.

Children sent by users the user ignores (account data `m.ignored_user_list`) are not aggregated:
no reference, no edit, not counted in a thread nor its latest event (spec: "Ignoring users").

Cost per page of events, whatever its size: one query for the page's thread, replacement and
reference rows (all a page without relations costs), then, when there are any: the user's ignored
users (and one query to recount threads when there are some), the user's participation (only when
there are threads), the events to embed, history visibility of the latest thread events, then the
same for those latest events (without threads, which cannot nest).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from django.db.models import Count, OuterRef, Subquery, Value
from apps.rooms import serialize, stores
from apps.rooms.events import Event
from apps.rooms.visibility import filter_events_for_user

from .index import REFERENCE, REPLACE, THREAD, relation_of
from .models import EventRelation, ThreadRoot

# Candidate edits loaded per original: the newest that passes the content check wins.
_REPLACE_CANDIDATES = 3
_THREAD_FALLBACK_SCAN = 20


@dataclass(frozen=True)
class _Thread:
    root_sender: str
    latest_event_id: str
    count: int


def _is_edit(event: Event) -> bool:
    rel = relation_of(event.content)
    return rel is not None and rel[1] == REPLACE


def _valid_replacement(original: Event, edit: Event) -> bool:
    if edit.room_id != original.room_id or edit.sender != original.sender or edit.type != original.type:
        return False
    if edit.is_state() or original.is_state() or _is_edit(original):
        return False
    return edit.type == "m.room.encrypted" or isinstance(edit.content.get("m.new_content"), dict)


def ignored_by(user_id: str | None) -> frozenset[str]:
    """The users `user_id` ignores (account data `m.ignored_user_list`)."""
    if user_id is None:
        return frozenset()
    from apps.account_data.stores import ignored_users

    return ignored_users(user_id)


def bundle(events: Sequence[Event], user_id: str | None, *, threads: bool = True,
           ignored: frozenset[str] | None = None) -> dict[str, dict[str, Any]]:
    """event_id -> {rel_type: aggregation} for the events of `events` that have any. Children sent by
    users the user ignores are left out (spec: "Ignoring users"); `ignored` is read when first needed."""
    parents = {e.event_id: e for e in events if not e.is_state()}
    if not parents:
        return {}
    ids = list(parents)
    out: dict[str, dict[str, Any]] = {}

    # One query for the page's thread rows and its edits and references (the common page has none).
    rows = EventRelation.objects.filter(relates_to_id__in=ids, rel_type__in=(REPLACE, REFERENCE)).values_list(
        "rel_type", "relates_to_id", "room_id", "event_id", "sender", "type", "origin_server_ts", "stream_ordering",
        Value(0))
    if threads:
        rows = rows.union(ThreadRoot.objects.filter(root_event_id__in=ids).values_list(
            Value(THREAD), "root_event_id", "room_id", "latest_event_id", "root_sender", Value(""), Value(0),
            "latest_stream_ordering", "count"), all=True)
    rows = sorted(rows, key=lambda r: r[7])
    if not rows:
        return out
    if ignored is None:
        ignored = ignored_by(user_id)
    roots: dict[str, _Thread] = {}
    edits: dict[str, list[tuple[int, str]]] = {}
    for rel_type, parent_id, room_id, event_id, sender, etype, ts, _, count in rows:
        parent = parents[parent_id]
        if room_id != parent.room_id or (rel_type != THREAD and sender in ignored):
            continue
        if rel_type == THREAD:
            roots[parent_id] = _Thread(root_sender=sender, latest_event_id=event_id, count=count)
            continue
        # m.reference: every referencing event of the same room, oldest first.
        if rel_type == REFERENCE:
            agg = out.setdefault(parent_id, {}).setdefault(REFERENCE, {"chunk": []})
            agg["chunk"].append({"event_id": event_id})
        elif sender == parent.sender and etype == parent.type and "redacted_because" not in parent.unsigned:
            edits.setdefault(parent_id, []).append((ts, event_id))
    candidates = {p: [eid for _, eid in sorted(c, reverse=True)[:_REPLACE_CANDIDATES]] for p, c in edits.items()}
    if roots and ignored:
        roots = _without_ignored(roots, ignored)

    participated: set[str] = set()
    if roots and user_id is not None:
        participated = {r for r, row in roots.items() if row.root_sender == user_id}
        participated |= set(EventRelation.objects.filter(rel_type=THREAD, sender=user_id,
                                                         relates_to_id__in=list(roots.keys() - participated))
                            .values_list("relates_to_id", flat=True).distinct())

    wanted = [r.latest_event_id for r in roots.values()] + [eid for c in candidates.values() for eid in c]
    loaded = stores.get_events(wanted) if wanted else {}

    for parent_id, ids_ in candidates.items():
        for eid in ids_:
            edit = loaded.get(eid)
            if edit is not None and _valid_replacement(parents[parent_id], edit):
                out.setdefault(parent_id, {})[REPLACE] = edit
                break

    if roots:
        latest = _visible_latest(user_id, roots, loaded, ignored)
        nested = bundle(list(latest.values()), user_id, threads=False, ignored=ignored)
        for root_id, row in roots.items():
            ev = latest.get(root_id)
            if ev is None:
                continue
            if nested.get(ev.event_id):
                ev.unsigned["m.relations"] = nested[ev.event_id]
            out.setdefault(root_id, {})[THREAD] = {"latest_event": ev, "count": row.count,
                                                   "current_user_participated": root_id in participated}
    return out


def _without_ignored(roots: dict[str, _Thread], ignored: frozenset[str]) -> dict[str, _Thread]:
    """The threads' counts and latest events recomputed without the children of ignored users (only
    for a user who ignores someone: one query)."""
    children = (EventRelation.objects.filter(relates_to_id=OuterRef("root_event_id"), rel_type=THREAD)
                .exclude(sender__in=list(ignored)))
    rows = (ThreadRoot.objects.filter(root_event_id__in=list(roots))
            .annotate(n=Subquery(children.order_by().values("relates_to_id").annotate(c=Count("event_id"))
                                 .values("c")[:1]),
                      last=Subquery(children.order_by("-depth", "-stream_ordering").values("event_id")[:1]))
            .values_list("root_event_id", "n", "last"))
    return {root: _Thread(root_sender=roots[root].root_sender, latest_event_id=last, count=n)
            for root, n, last in rows if last is not None}


def _visible_latest(user_id: str | None, roots: dict[str, _Thread], loaded: dict[str, Event],
                    ignored: frozenset[str] = frozenset()) -> dict[str, Event]:
    """root -> the newest thread event the user may see."""
    latest = {r: loaded[row.latest_event_id] for r, row in roots.items() if row.latest_event_id in loaded}
    if user_id is None:
        return latest
    seen = {e.event_id for e in filter_events_for_user(user_id, list(latest.values()))}
    for root_id in [r for r, e in latest.items() if e.event_id not in seen]:
        # Rare: the newest child is hidden from the user (e.g. they left before it): the newest they may see.
        ids = list(EventRelation.objects.filter(relates_to_id=root_id, rel_type=THREAD)
                   .exclude(sender__in=list(ignored)).order_by("-depth", "-stream_ordering").values_list("event_id", flat=True)[:_THREAD_FALLBACK_SCAN])
        found = stores.get_events(ids)
        visible = filter_events_for_user(user_id, [found[i] for i in ids if i in found])
        if visible:
            latest[root_id] = visible[0]
        else:
            del latest[root_id]
    return latest


serialize.register_bundler(bundle)
