"""The hierarchy of a room this server is not in, asked of the servers a space names for it
(client-server API, "Spaces", Server behaviour; server-server API, "Spaces"):

    GET /_matrix/federation/v1/hierarchy/{roomId}?suggested_only=

The servers asked are the `via` of the `m.space.child` event that leads to the room (this server
left out), at most MAX_SERVERS of them, in order, until one gives a usable answer. Every request goes
through `apps.federation.client` (signed; the outbound IP range guard and the federation whitelist
apply).

What another server answers is checked before anything of it is used: the room must be the one
asked for; a room summary keeps only the RoomSummary fields, each of the right type (a summary
without its required fields is dropped); a child state event keeps only the stripped-state fields of
an `m.space.child`. A server that cannot be reached, refuses, or answers something unusable is
skipped; when none answers, the room is left out by the caller.

Answers are kept in the shared cache (Redis in a scaled deployment) for CACHE_SECONDS, as the spec
recommends; a room that no server answered for is remembered as such for FAILURE_CACHE_SECONDS (per
set of servers asked), so that the pages of one /hierarchy walk do not wait on a dead server again.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote

import httpx
from django.conf import settings
from django.core.cache import cache

from apps.federation import client

logger = logging.getLogger(__name__)

CACHE_SECONDS = 5 * 60
FAILURE_CACHE_SECONDS = 60
# Synapse asks at most three of a child's `via` servers too.
MAX_SERVERS = 3
TIMEOUT = httpx.Timeout(10.0, connect=5.0)

_REQUIRED = {"room_id": str, "num_joined_members": int, "world_readable": bool, "guest_can_join": bool}
_OPTIONAL_STRINGS = ("name", "topic", "avatar_url", "canonical_alias", "join_rule", "room_type", "encryption",
                     "room_version")


@dataclass(frozen=True)
class RemoteHierarchy:
    """A checked answer: the room's summary with its `children_state`, the summaries of its children
    the other server gave (by room ID, each with the `children_state` it came with, else []), and the
    children that server says this server cannot see."""

    room: dict[str, Any]
    children: dict[str, dict[str, Any]]
    inaccessible: frozenset[str]

    def as_json(self) -> dict[str, Any]:
        return {"room": self.room, "children": self.children, "inaccessible": sorted(self.inaccessible)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RemoteHierarchy":
        return cls(data["room"], data["children"], frozenset(data["inaccessible"]))


# --- checking what another server says ------------------------------------------------------------------

def checked_summary(raw: Any) -> dict[str, Any] | None:
    """The RoomSummary fields of `raw` that have the right type, or None without the required ones."""
    if not isinstance(raw, dict):
        return None
    out: dict[str, Any] = {}
    for key, kind in _REQUIRED.items():
        value = raw.get(key)
        if not isinstance(value, kind) or (kind is int and (isinstance(value, bool) or value < 0)):
            return None
        out[key] = value
    if not out["room_id"].startswith("!"):
        return None
    out.update({k: raw[k] for k in _OPTIONAL_STRINGS if isinstance(raw.get(k), str)})
    allowed = raw.get("allowed_room_ids")
    if isinstance(allowed, list):
        out["allowed_room_ids"] = [r for r in allowed if isinstance(r, str) and r.startswith("!")]
    return out


def checked_child_state(raw: Any) -> dict[str, Any] | None:
    """An `m.space.child` stripped state event with `origin_server_ts`, or None."""
    if not isinstance(raw, dict) or raw.get("type") != "m.space.child":
        return None
    ts = raw.get("origin_server_ts")
    if not (isinstance(raw.get("state_key"), str) and raw["state_key"] and isinstance(raw.get("content"), dict)
            and isinstance(raw.get("sender"), str) and isinstance(ts, int) and not isinstance(ts, bool)):
        return None
    return {"type": "m.space.child", "state_key": raw["state_key"], "content": raw["content"],
            "sender": raw["sender"], "origin_server_ts": ts}


def _children_state(raw: Any) -> list[dict[str, Any]]:
    return [c for c in map(checked_child_state, raw) if c is not None] if isinstance(raw, list) else []


def parse_answer(room_id: str, data: Any) -> RemoteHierarchy | None:
    """The checked form of a federation /hierarchy response about `room_id`, or None if unusable."""
    if not isinstance(data, dict) or not isinstance(data.get("room"), dict):
        return None
    room = checked_summary(data["room"])
    if room is None or room["room_id"] != room_id or not isinstance(data["room"].get("children_state"), list):
        return None
    room["children_state"] = _children_state(data["room"]["children_state"])
    children: dict[str, dict[str, Any]] = {}
    for raw in data.get("children") if isinstance(data.get("children"), list) else []:
        child = checked_summary(raw)
        if child is not None and child["room_id"] != room_id:
            child["children_state"] = _children_state(raw.get("children_state"))
            children[child["room_id"]] = child
    hidden = data.get("inaccessible_children")
    inaccessible = frozenset(r for r in hidden if isinstance(r, str)) if isinstance(hidden, list) else frozenset()
    return RemoteHierarchy(room, children, inaccessible)


# --- asking, with the shared cache ----------------------------------------------------------------------

def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _answer_key(room_id: str, suggested_only: bool) -> str:
    return f"spaces:remote_hierarchy:{_digest(room_id, str(suggested_only))}"


def _failure_key(room_id: str, suggested_only: bool, servers: list[str]) -> str:
    return f"spaces:remote_hierarchy_failed:{_digest(room_id, str(suggested_only), *servers)}"


def servers_to_ask(via: Iterable[Any]) -> list[str]:
    me = settings.HS.server_name
    return [s for s in dict.fromkeys(v for v in via if isinstance(v, str)) if s and s != me][:MAX_SERVERS]


# `cached` answers this when nothing is cached: asking is needed.
NOT_CACHED = object()


def cached(room_id: str, via: Iterable[Any], suggested_only: bool) -> "RemoteHierarchy | None | object":
    """The cached answer, None when asking is known to fail (or there is no one to ask), or NOT_CACHED."""
    found = cache.get(_answer_key(room_id, suggested_only))
    if found is not None:
        return RemoteHierarchy.from_json(found)
    servers = servers_to_ask(via)
    if not servers or cache.get(_failure_key(room_id, suggested_only, servers)) is not None:
        return None
    return NOT_CACHED


def fetch(room_id: str, via: Iterable[Any], suggested_only: bool) -> RemoteHierarchy | None:
    """Asks the `via` servers, in order, for the hierarchy of `room_id`; the first usable answer
    (cached), or None."""
    servers = servers_to_ask(via)
    path = f"/_matrix/federation/v1/hierarchy/{quote(room_id, safe='')}"
    for server in servers:
        try:
            data = client.get_json(server, path, query={"suggested_only": "true" if suggested_only else "false"},
                                   timeout=TIMEOUT)
        except client.FederationError as e:
            logger.info("Hierarchy of %s from %s failed: %s", room_id, server, e)
            continue
        answer = parse_answer(room_id, data)
        if answer is None:
            logger.info("Hierarchy of %s from %s: unusable answer", room_id, server)
            continue
        cache.set(_answer_key(room_id, suggested_only), answer.as_json(), CACHE_SECONDS)
        return answer
    if servers:
        cache.set(_failure_key(room_id, suggested_only, servers), 1, FAILURE_CACHE_SECONDS)
    return None
