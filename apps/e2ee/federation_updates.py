"""Telling other servers that a local user's devices changed (spec: server-server API, "Device Management"
and "End-to-End Encryption": `m.device_list_update` and `m.signing_key_update` EDUs).

`queue_updates` runs inside `device_lists.record_change`, in the transaction that writes the change, for a
local user's change that others may see: the EDUs go into the federation sender's durable outbox
(apps.federation_sender) for every other server with a member joined to one of the user's rooms, and the
destinations are woken after the commit. So an update is queued exactly when the change commits, and a
restart or a lost wake-up delays it, never loses it.

- A device created, renamed, given keys or new signatures, or deleted: one `m.device_list_update` per
  device, with the device's keys (its owner's signatures merged, as `/keys/query` shows them) and display
  name, or `deleted: true`. Its `stream_id` is the id of the device's row in the `device_lists` table, so
  each EDU of a user has its own (several devices changed at once share a stream position, not an id);
  `prev_id` names the user's previous device row, so the EDUs of a user form one chain and a server that
  missed one resyncs through `GET /user/devices` (whose `stream_id` is the last id of the chain).
- Cross-signing keys (or the owner's signatures of their master key) changed: one `m.signing_key_update`
  with the current master and self-signing keys; a newer one replaces one still pending.
Device-list EDUs are never merged: a server that lost one in the chain has to resync.

A server that starts sharing a room with a local user (`queue_for_new_servers`, an in-transaction hook of
the event persister, apps.rooms.persister.on_event_persisting): the spec has the user's device list sent
"when that user joins a room which contains servers which are not already receiving updates for that
user's device list", and the same holds when a user of a new server joins a room of ours. On a join that
is a new membership (not a profile change of a joined member) and is the current state:
- a local user joining: every other server in the room that shares no other room with them;
- a user of another server joining: that server, for each local user of the room who shares no other
  room with a user of that server (the one joining left out).
Each such server gets one `m.device_list_update` per current device of the user, with its keys and name,
as after a change: its `stream_id` is the id of the device's last row in `device_lists`, the EDUs in
increasing order. The first has an empty `prev_id`, as the first EDU of a sequence may (spec,
m.device_list_update): the server was not receiving this user's sequence, so it knows none of its ids,
and an empty `prev_id` is what makes a receiver take a snapshot (`/user/keys/query` or `/user/devices`,
whose `stream_id` is the last id of the chain) rather than wait for an EDU it never had (Synapse resyncs
on an empty `prev_id` too, and sends one to a destination it has sent nothing for that user). The others
chain to the one before, so the sequence continues from them: the user's next change names the last of
the chain, or a later row (a device deleted since), which the receiver does not know and resyncs for.
A device with no row (made where the stream was not written, so never announced to any server) is left to
that snapshot. Other events, and member events other than joins, cost nothing: the hook looks at the
event's type and membership first. Nothing is queued while `send_federation` is off.

A server whose last member leaves the user's rooms needs nothing: the destinations of each change are the
servers joined to the user's rooms at that change, so it no longer hears of them.
"""
from __future__ import annotations

from typing import Any, Iterable

from django.conf import settings
from django.db import transaction

from . import stores

DEVICE_LIST_UPDATE = "m.device_list_update"
SIGNING_KEY_UPDATE = "m.signing_key_update"


def _destinations(room_ids: Iterable[str]) -> set[str]:
    from apps.core.outbound import federation_allowed
    from apps.federation_sender import stores as outbox

    servers = set().union(*outbox.rooms_joined_servers(room_ids).values()) if room_ids else set()
    return {s for s in servers if s and s != settings.HS.server_name and federation_allowed(s)}


def _device_update(user_id: str, device_id: str, stream_id: int, prev: int, names: dict[str, str | None],
                   device_keys: dict[str, dict]) -> dict[str, Any]:
    """An `m.device_list_update` of one device: its keys and name, or `deleted` when it is not in `names`."""
    content: dict[str, Any] = {"user_id": user_id, "device_id": device_id, "stream_id": stream_id,
                               "prev_id": [prev] if prev else [], "deleted": device_id not in names}
    if device_id in names:
        if names[device_id]:
            content["device_display_name"] = names[device_id]
        if device_id in device_keys:
            content["keys"] = {k: v for k, v in device_keys[device_id].items() if k != "unsigned"}
    return content


def build_edus(user_id: str, position: int) -> list[tuple[str, dict[str, Any], str | None]]:
    """(edu_type, content, coalesce key) of the changes of `user_id` written at `position`."""
    from .handlers import local_keys

    changes = stores.device_changes_at(user_id, position)
    if not changes:
        return []
    device_ids = [d for _, d in changes if d is not None]
    keys = local_keys({user_id: device_ids}, viewer=None)
    edus: list[tuple[str, dict[str, Any], str | None]] = []
    if device_ids:
        names = {d: n for (_, d), n in stores.devices_of_users([user_id]).items()}
        device_keys = keys["device_keys"].get(user_id, {})
        first = next(pk for pk, d in changes if d is not None)
        prev = stores.last_device_update_id(user_id, before=first)
        for pk, device_id in changes:
            if device_id is None:
                continue
            edus.append((DEVICE_LIST_UPDATE, _device_update(user_id, device_id, pk, prev, names, device_keys), None))
            prev = pk
    if any(d is None for _, d in changes):
        content = {"user_id": user_id}
        if user_id in keys["master_keys"]:
            content["master_key"] = keys["master_keys"][user_id]
        if user_id in keys["self_signing_keys"]:
            content["self_signing_key"] = keys["self_signing_keys"][user_id]
        if len(content) > 1:
            edus.append((SIGNING_KEY_UPDATE, content, f"{SIGNING_KEY_UPDATE}:{user_id}"))
    return edus


def queue_updates(user_id: str, position: int, room_ids: Iterable[str]) -> None:
    """Queue the EDUs of a local user's change at `position` for the servers in `room_ids` (the user's
    rooms). In the caller's transaction."""
    from apps.federation_sender import stores as outbox
    from apps.federation_sender.delivery import sending_enabled

    if not sending_enabled():
        return
    destinations = _destinations(list(room_ids))
    if not destinations:
        return
    edus = build_edus(user_id, position)
    if not edus:
        return
    for destination in sorted(destinations):
        for edu_type, content, coalesce_key in edus:
            outbox.queue_edu(destination, edu_type, content, coalesce_key)

    def wake() -> None:
        from apps.federation_sender.wakeups import wake_all

        wake_all(destinations)
    transaction.on_commit(wake)


# --- servers newly sharing a room with local users ------------------------------------------------------------

def device_list_snapshot(user_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """user_id -> the `m.device_list_update` contents of the local user's current devices, for a server
    that was not receiving the user's updates (see the module docstring): in `stream_id` order, the first
    with an empty `prev_id`, each other naming the one before it."""
    from .handlers import local_keys

    users = sorted(set(user_ids))
    names = stores.devices_of_users(users)
    if not names:
        return {}
    last_rows = stores.last_device_update_ids(users)
    device_keys = local_keys({u: [] for u in users}, viewer=None)["device_keys"]
    out: dict[str, list[dict[str, Any]]] = {}
    for user_id in users:
        own = {d: n for (u, d), n in names.items() if u == user_id}
        prev = 0
        for stream_id, device_id in sorted((last_rows[(user_id, d)], d) for d in own if (user_id, d) in last_rows):
            out.setdefault(user_id, []).append(
                _device_update(user_id, device_id, stream_id, prev, own, device_keys.get(user_id, {})))
            prev = stream_id
    return out


def _prev_membership(event) -> str | None:
    """The joining user's membership before `event`, from its auth events (a member event is authorised
    by the target's current member event: spec, "Auth events selection")."""
    from apps.rooms import stores as room_stores

    for ev in room_stores.get_events(event.auth_event_ids).values():
        if ev.type == "m.room.member" and ev.state_key == event.state_key:
            return ev.membership
    return None


def queue_for_new_servers(persisted) -> None:
    """Persister hook (in the event's transaction): a join that makes another server share a room with
    local users queues those users' device lists for it (see the module docstring)."""
    event = persisted.event
    if event.type != "m.room.member" or event.membership != "join":
        return
    meta = event.internal
    joiner = event.state_key
    if (persisted.stream_ordering is None or meta.outlier or event.rejected or meta.soft_failed
            or not isinstance(joiner, str) or ":" not in joiner):
        return
    from apps.core.ids import server_name_of
    from apps.core.outbound import federation_allowed
    from apps.federation_sender.delivery import sending_enabled

    if not sending_enabled():
        return
    me = settings.HS.server_name
    if server_name_of(joiner) == me:
        servers = {s for s in stores.servers_in_rooms([event.room_id]) if s and s != me}
        if not servers or _prev_membership(event) == "join":
            return
        if stores.membership_event_id(event.room_id, joiner) != event.event_id:
            return  # not the current state (a fork resolved otherwise)
        new = servers - stores.servers_sharing_other_rooms(joiner, event.room_id)
        by_server = {s: [joiner] for s in new if federation_allowed(s)}
    else:
        server = server_name_of(joiner)
        if server == me or not federation_allowed(server) or _prev_membership(event) == "join":
            return
        if stores.membership_event_id(event.room_id, joiner) != event.event_id:
            return
        users = stores.local_members_new_to_server(event.room_id, joiner, server, me)
        by_server = {server: users} if users else {}
    if by_server:
        queue_device_lists(by_server)


def queue_device_lists(by_server: dict[str, list[str]]) -> None:
    """Queue the current device lists of local users for servers ({server: [user_id]}), in the caller's
    transaction; the servers are woken after the commit."""
    from apps.federation_sender import stores as outbox

    snapshot = device_list_snapshot(set().union(*by_server.values()))
    woken: set[str] = set()
    for destination in sorted(by_server):
        for user_id in sorted(by_server[destination]):
            for content in snapshot.get(user_id, []):
                outbox.queue_edu(destination, DEVICE_LIST_UPDATE, content)
                woken.add(destination)
    if not woken:
        return

    def wake() -> None:
        from apps.federation_sender.wakeups import wake_all

        wake_all(woken)
    transaction.on_commit(wake)
