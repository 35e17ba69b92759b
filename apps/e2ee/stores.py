"""Every query of the e2ee app: device keys, one-time and fallback keys, cross-signing keys and
signatures, the `device_lists` stream table, key backups, and the read-only membership reads of the
rooms tables that device-list tracking needs."""
from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Iterable

from canonicaljson import encode_canonical_json
from django.db import IntegrityError, transaction
from django.core.cache import cache
from django.db.models import Count, F, IntegerField, Max, Q, Value
from django.db.models.functions import StrIndex, Substr

from apps.rooms.models import EventRow, RoomMembership

from .models import (CrossSigningKey, DeviceKeys, DeviceListChange, FallbackKey, KeySignature, OneTimeKey,
                     RoomKey, RoomKeysVersion)


def canonical(obj: Any) -> str:
    return encode_canonical_json(obj).decode()


def _now_ms() -> int:
    return int(time.time() * 1000)


# --- device keys -----------------------------------------------------------------------------------------

def device_keys_json(user_id: str, device_id: str) -> dict | None:
    raw = DeviceKeys.objects.filter(user_id=user_id, device_id=device_id).values_list("key_json", flat=True).first()
    return json.loads(raw) if raw is not None else None


def set_device_keys(user_id: str, device_id: str, keys: dict) -> None:
    DeviceKeys.objects.update_or_create(user_id=user_id, device_id=device_id,
                                        defaults={"key_json": canonical(keys), "ts": _now_ms()})


def _localparts(user_ids: Iterable[str]) -> dict[str, str]:
    """localpart -> user ID of the local users among `user_ids` (accounts store localparts only)."""
    from django.conf import settings

    suffix = ":" + settings.HS.server_name
    return {u[1:-len(suffix)]: u for u in user_ids if u.startswith("@") and u.endswith(suffix)}


def devices_of_users(user_ids: Iterable[str]) -> dict[tuple[str, str], str | None]:
    """(user_id, device_id) -> display name of every device of these local users."""
    from apps.accounts.models import Device

    local = _localparts(user_ids)
    if not local:
        return {}
    return {(local[lp], d): n for lp, d, n in Device.objects.filter(user__localpart__in=list(local))
            .values_list("user__localpart", "device_id", "display_name")}


def device_keys_of_users(user_ids: Iterable[str]) -> dict[str, dict[str, dict]]:
    """user_id -> device_id -> keys (of any device, existing or not: see `devices_of_users`)."""
    out: dict[str, dict[str, dict]] = {}
    users = list(user_ids)
    if not users:
        return out
    for user_id, device_id, raw in DeviceKeys.objects.filter(user_id__in=users).values_list(
            "user_id", "device_id", "key_json"):
        out.setdefault(user_id, {})[device_id] = json.loads(raw)
    return out


def user_device_ids(user_id: str) -> set[str]:
    return {d for (_, d) in devices_of_users([user_id])}


def delete_device_keys(user_id: str, device_ids: Iterable[str]) -> None:
    """Everything keyed by these devices: identity keys, one-time and fallback keys, signatures of them."""
    ids = list(device_ids)
    forget_key_counts(user_id, ids)
    DeviceKeys.objects.filter(user_id=user_id, device_id__in=ids).delete()
    OneTimeKey.objects.filter(user_id=user_id, device_id__in=ids).delete()
    FallbackKey.objects.filter(user_id=user_id, device_id__in=ids).delete()
    KeySignature.objects.filter(target_user_id=user_id, target_key_id__in=ids).delete()
    # A device's own signature of its user's master key goes with the device.
    KeySignature.objects.filter(signer_user_id=user_id, signing_key_id__in=[f"ed25519:{d}" for d in ids]).delete()


# --- one-time and fallback keys --------------------------------------------------------------------------

def existing_one_time_keys(user_id: str, device_id: str, ids: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(algorithm, key_id) -> stored JSON text, for those of `ids` already uploaded."""
    wanted = list(ids)
    if not wanted:
        return {}
    q = Q()
    for algorithm, key_id in wanted:
        q |= Q(algorithm=algorithm, key_id=key_id)
    return {(a, k): j for a, k, j in OneTimeKey.objects.filter(q, user_id=user_id, device_id=device_id)
            .values_list("algorithm", "key_id", "key_json")}


def add_one_time_keys(user_id: str, device_id: str, keys: list[tuple[str, str, Any]]) -> None:
    forget_key_counts(user_id, [device_id])
    OneTimeKey.objects.bulk_create(
        [OneTimeKey(user_id=user_id, device_id=device_id, algorithm=a, key_id=k, key_json=canonical(v))
         for a, k, v in keys], ignore_conflicts=True)


KEY_COUNTS_CACHE_SECONDS = 600


def _counts_cache_key(user_id: str, device_id: str) -> str:
    # Hashed: user and device IDs may hold characters a cache backend refuses in keys.
    return "e2ee:key-counts:" + hashlib.sha256(f"{user_id}\0{device_id}".encode()).hexdigest()


def key_counts(user_id: str, device_id: str) -> tuple[dict[str, int], list[str]]:
    """(one-time key count per algorithm, algorithms of unused fallback keys) of a device.

    Every /sync of the device needs them, so they are cached (shared cache) and forgotten by every write
    (`forget_key_counts`): a /sync with nothing new costs no query here."""
    cache_key = _counts_cache_key(user_id, device_id)
    hit = cache.get(cache_key)
    if hit is not None:
        return hit
    otks = (OneTimeKey.objects.filter(user_id=user_id, device_id=device_id).values("algorithm")
            .annotate(n=Count("id")).values_list("algorithm", "n"))
    fallbacks = (FallbackKey.objects.filter(user_id=user_id, device_id=device_id, used=False)
                 .annotate(n=Value(-1, output_field=IntegerField())).values_list("algorithm", "n"))
    counts: dict[str, int] = {}
    unused: list[str] = []
    for algorithm, n in otks.union(fallbacks, all=True):
        if n < 0:
            unused.append(algorithm)
        else:
            counts[algorithm] = n
    value = (counts, sorted(unused))
    cache.set(cache_key, value, KEY_COUNTS_CACHE_SECONDS)
    return value


def new_device_key_counts(user_id: str, device_id: str) -> None:
    """A device just created holds no keys (a deleted device's keys went with it): known without asking."""
    cache_key = _counts_cache_key(user_id, device_id)
    transaction.on_commit(lambda: cache.set(cache_key, ({}, []), KEY_COUNTS_CACHE_SECONDS))


def forget_key_counts(user_id: str, device_ids: Iterable[str]) -> None:
    """Now and again after the commit: a read racing this transaction may have cached the old counts."""
    keys = [_counts_cache_key(user_id, d) for d in device_ids]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))


def set_fallback_key(user_id: str, device_id: str, algorithm: str, key_id: str, key: Any) -> None:
    """Replace the device's fallback key of `algorithm`; the same key uploaded again keeps its `used` mark."""
    text = canonical(key)
    current = (FallbackKey.objects.filter(user_id=user_id, device_id=device_id, algorithm=algorithm)
               .values_list("key_id", "key_json").first())
    if current == (key_id, text):
        return
    forget_key_counts(user_id, [device_id])
    FallbackKey.objects.update_or_create(user_id=user_id, device_id=device_id, algorithm=algorithm,
                                         defaults={"key_id": key_id, "key_json": text, "used": False})


def claim_one_time_key(user_id: str, device_id: str, algorithm: str) -> tuple[str, Any] | None:
    """Take the oldest one-time key of the device and algorithm, else its fallback key (marked used).

    A key is taken by deleting its row: the DELETE that removes it is the claim, so two concurrent claims
    can never both return it (the loser's DELETE counts 0 rows and it tries the next key)."""
    forget_key_counts(user_id, [device_id])
    for _ in range(20):
        row = (OneTimeKey.objects.filter(user_id=user_id, device_id=device_id, algorithm=algorithm)
               .order_by("id").values_list("id", "key_id", "key_json").first())
        if row is None:
            break
        pk, key_id, raw = row
        deleted, _ = OneTimeKey.objects.filter(pk=pk).delete()
        if deleted:
            return f"{algorithm}:{key_id}", json.loads(raw)
    fallback = (FallbackKey.objects.filter(user_id=user_id, device_id=device_id, algorithm=algorithm)
                .values_list("pk", "key_id", "key_json").first())
    if fallback is None:
        return None
    pk, key_id, raw = fallback
    FallbackKey.objects.filter(pk=pk, used=False).update(used=True)
    return f"{algorithm}:{key_id}", json.loads(raw)


# --- cross-signing keys and signatures -------------------------------------------------------------------

def cross_signing_keys(user_ids: Iterable[str]) -> dict[str, dict[str, dict]]:
    """user_id -> key_type -> key JSON."""
    out: dict[str, dict[str, dict]] = {}
    for user_id, key_type, raw in CrossSigningKey.objects.filter(user_id__in=list(user_ids)).values_list(
            "user_id", "key_type", "key_json"):
        out.setdefault(user_id, {})[key_type] = json.loads(raw)
    return out


def set_cross_signing_key(user_id: str, key_type: str, public_key: str, key: dict) -> None:
    old = (CrossSigningKey.objects.filter(user_id=user_id, key_type=key_type)
           .values_list("public_key", flat=True).first())
    if old is not None and old != public_key:
        # Signatures made with the replaced key, and others' signatures of it, no longer mean anything.
        KeySignature.objects.filter(signer_user_id=user_id, signing_key_id=f"ed25519:{old}").delete()
        KeySignature.objects.filter(target_user_id=user_id, target_key_id=old).delete()
    CrossSigningKey.objects.update_or_create(user_id=user_id, key_type=key_type,
                                             defaults={"public_key": public_key, "key_json": canonical(key)})


def set_signature(signer_user_id: str, signing_key_id: str, target_user_id: str, target_key_id: str,
                  signature: str) -> None:
    """Store a signature; a new one from the same key replaces the old one (a bad signature can be fixed)."""
    KeySignature.objects.update_or_create(signer_user_id=signer_user_id, signing_key_id=signing_key_id,
                                          target_user_id=target_user_id, target_key_id=target_key_id,
                                          defaults={"signature": signature})


def signatures_of(target_user_ids: Iterable[str],
                  signers: Iterable[str]) -> dict[tuple[str, str], list[tuple[str, str, str]]]:
    """(target_user_id, target_key_id) -> [(signer_user_id, signing_key_id, signature)] by these signers."""
    out: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    rows = KeySignature.objects.filter(target_user_id__in=list(target_user_ids), signer_user_id__in=list(signers))
    for signer, key_id, target_user, target_key, sig in rows.values_list(
            "signer_user_id", "signing_key_id", "target_user_id", "target_key_id", "signature"):
        out.setdefault((target_user, target_key), []).append((signer, key_id, sig))
    return out


# --- the device_lists stream -----------------------------------------------------------------------------

def insert_device_list_changes(position: int, user_id: str, device_ids: Iterable[str | None],
                               visible_to: str | None = None) -> None:
    DeviceListChange.objects.bulk_create([DeviceListChange(stream_id=position, user_id=user_id, device_id=d,
                                                           visible_to=visible_to) for d in device_ids])


def device_list_rows(from_pos: int, to_pos: int, limit: int) -> list[tuple[int, str, str | None, str | None]]:
    """(position, user_id, device_id, visible_to) in (from_pos, to_pos], about `limit` of them but never
    splitting a position (the registry's paging contract)."""
    fields = ("id", "stream_id", "user_id", "device_id", "visible_to")
    rows = list(DeviceListChange.objects.filter(stream_id__gt=from_pos, stream_id__lte=to_pos)
                .order_by("stream_id", "id").values_list(*fields)[:limit])
    if rows and len(rows) == limit:
        last_id, last_pos = rows[-1][0], rows[-1][1]
        rows += list(DeviceListChange.objects.filter(stream_id=last_pos, id__gt=last_id).order_by("id")
                     .values_list(*fields))
    return [r[1:] for r in rows]


def users_with_device_changes(from_pos: int, to_pos: int) -> set[tuple[str, str | None]]:
    """{(user_id, visible_to)} with a device-list change in (from_pos, to_pos]."""
    if to_pos <= from_pos:
        return set()
    return set(DeviceListChange.objects.filter(stream_id__gt=from_pos, stream_id__lte=to_pos)
               .values_list("user_id", "visible_to").distinct())


def device_changes_at(user_id: str, position: int) -> list[tuple[int, str | None]]:
    """(row id, device_id) of the user's rows written at `position` (one `record_change`), in order. The
    row id is the `stream_id` of the device's `m.device_list_update` (unique per EDU, as the spec asks,
    where several devices share one stream position)."""
    return list(DeviceListChange.objects.filter(stream_id=position, user_id=user_id, visible_to__isnull=True)
                .order_by("id").values_list("id", "device_id"))


def _device_updates(user_id: str):
    # Device rows only: cross-signing changes (device_id NULL) travel as m.signing_key_update, which has
    # no place in the m.device_list_update sequence.
    return DeviceListChange.objects.filter(user_id=user_id, visible_to__isnull=True, device_id__isnull=False)


def last_device_update_id(user_id: str, before: int | None = None) -> int:
    """The row id of the user's last device change (before row `before` when given); 0 when none."""
    rows = _device_updates(user_id)
    if before is not None:
        rows = rows.filter(id__lt=before)
    return rows.aggregate(m=Max("id"))["m"] or 0


def last_device_update_ids(user_ids: Iterable[str]) -> dict[tuple[str, str], int]:
    """(user_id, device_id) -> the row id of that device's last change, for every device (existing or
    deleted) of these users that has one."""
    users = list(user_ids)
    if not users:
        return {}
    return {(u, d): m for u, d, m in DeviceListChange.objects.filter(
        user_id__in=users, visible_to__isnull=True, device_id__isnull=False)
        .values("user_id", "device_id").annotate(m=Max("id")).values_list("user_id", "device_id", "m")}


# --- membership reads (rooms tables, read-only) ----------------------------------------------------------

_VISIBLE = Q(outlier=False, rejected_reason__isnull=True, soft_failed=False)


def joined_rooms_of_users(user_ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for user_id, room_id in RoomMembership.objects.filter(user_id__in=list(user_ids), membership="join") \
            .values_list("user_id", "room_id"):
        out.setdefault(user_id, []).append(room_id)
    return out


def joined_room_ids(user_id: str) -> list[str]:
    return list(RoomMembership.objects.filter(user_id=user_id, membership="join").values_list("room_id", flat=True))


def users_sharing_rooms(user_ids: Iterable[str], room_ids: Iterable[str]) -> set[str]:
    """Which of `user_ids` are joined to at least one of `room_ids` now."""
    users, rooms = list(user_ids), list(room_ids)
    if not users or not rooms:
        return set()
    return set(RoomMembership.objects.filter(user_id__in=users, room_id__in=rooms, membership="join")
               .values_list("user_id", flat=True).distinct())


def remote_users_sharing_rooms(user_ids: Iterable[str], server_name: str) -> set[str]:
    """Which of `user_ids` (users of other servers) are joined to a room that a user of `server_name` (this
    server) is joined to now: the users whose servers send this server their device-list updates."""
    users = list(user_ids)
    if not users:
        return set()
    pairs = list(RoomMembership.objects.filter(user_id__in=users, membership="join").values_list("user_id", "room_id"))
    if not pairs:
        return set()
    shared = set(RoomMembership.objects.filter(room_id__in={r for _, r in pairs}, membership="join",
                                               user_id__endswith=":" + server_name)
                 .values_list("room_id", flat=True).distinct())
    return {u for u, r in pairs if r in shared}


def membership_event_id(room_id: str, user_id: str) -> str | None:
    """The event of the user's current membership of the room, when it is a join."""
    return (RoomMembership.objects.filter(room_id=room_id, user_id=user_id, membership="join")
            .values_list("event_id", flat=True).first())


def _server_part():
    # Everything after the first colon of the user ID (apps.core.ids.server_name_of), computed by the
    # database so that a large room answers with its few distinct servers, not all its members.
    return Substr("user_id", StrIndex("user_id", Value(":")) + 1)


def servers_in_rooms(room_ids) -> set[str]:
    """The servers with a member joined to one of `room_ids` (a list or a subquery of room ids)."""
    return set(RoomMembership.objects.filter(room_id__in=room_ids, membership="join")
               .annotate(server=_server_part()).values_list("server", flat=True).distinct())


def servers_sharing_other_rooms(user_id: str, room_id: str) -> set[str]:
    """The servers with a member joined to a room that `user_id` is joined to, `room_id` left out."""
    rooms = (RoomMembership.objects.filter(user_id=user_id, membership="join").exclude(room_id=room_id)
             .values("room_id"))
    return servers_in_rooms(rooms)


def local_members_new_to_server(room_id: str, joiner: str, server: str, local_server: str) -> list[str]:
    """The users of `local_server` joined to `room_id` who share no room with a user of `server` but
    `joiner` (who has just joined `room_id`): those whose device lists `server` has not been receiving."""
    local = list(RoomMembership.objects.filter(room_id=room_id, membership="join",
                                               user_id__endswith=":" + local_server)
                 .values_list("user_id", flat=True))
    if not local:
        return []
    their_rooms = (RoomMembership.objects
                   .filter(room_id__in=RoomMembership.objects.filter(user_id__in=local, membership="join")
                           .values("room_id"), membership="join", user_id__endswith=":" + server)
                   .exclude(room_id=room_id, user_id=joiner).values("room_id"))
    sharing = set(RoomMembership.objects.filter(user_id__in=local, membership="join", room_id__in=their_rooms)
                  .values_list("user_id", flat=True).distinct())
    return sorted(set(local) - sharing)


def joined_members(room_ids: Iterable[str]) -> set[str]:
    rooms = list(room_ids)
    if not rooms:
        return set()
    return set(RoomMembership.objects.filter(room_id__in=rooms, membership="join")
               .values_list("user_id", flat=True).distinct())


def member_events_between(room_ids: Iterable[str] | None, since: int, up_to: int,
                          state_key: str | None = None) -> list[tuple[str, str, str]]:
    """(room_id, user_id, membership) of timeline member events in (since, up_to], in stream order, in
    `room_ids` (any room when None) and of `state_key` when given."""
    if up_to <= since:
        return []
    rows = EventRow.objects.filter(_VISIBLE, type="m.room.member", stream_ordering__gt=since,
                                   stream_ordering__lte=up_to)
    if room_ids is not None:
        rooms = list(room_ids)
        if not rooms:
            return []
        rows = rows.filter(room_id__in=rooms)
    if state_key is not None:
        rows = rows.filter(state_key=state_key)
    out = []
    for room_id, user_id, raw in rows.order_by("stream_ordering").values_list("room_id", "state_key", "json"):
        m = json.loads(raw).get("content", {}).get("membership")
        out.append((room_id, user_id, m if isinstance(m, str) else "leave"))
    return out


# --- key backup ------------------------------------------------------------------------------------------

def current_backup_version(user_id: str) -> RoomKeysVersion | None:
    return (RoomKeysVersion.objects.filter(user_id=user_id, deleted=False).order_by("-version").first())


def backup_version(user_id: str, version: int) -> RoomKeysVersion | None:
    return RoomKeysVersion.objects.filter(user_id=user_id, version=version).first()


def create_backup_version(user_id: str, algorithm: str, auth_data: dict) -> int:
    for _ in range(5):
        try:
            with transaction.atomic():
                top = RoomKeysVersion.objects.filter(user_id=user_id).aggregate(m=Max("version"))["m"] or 0
                RoomKeysVersion.objects.create(user_id=user_id, version=top + 1, algorithm=algorithm,
                                               auth_data=canonical(auth_data))
                return top + 1
        except IntegrityError:  # a concurrent create took the number
            continue
    raise RuntimeError("could not allocate a backup version")


def update_backup_auth_data(user_id: str, version: int, auth_data: dict) -> None:
    RoomKeysVersion.objects.filter(user_id=user_id, version=version).update(auth_data=canonical(auth_data))


def delete_backup_version(user_id: str, version: int) -> None:
    with transaction.atomic():
        RoomKey.objects.filter(user_id=user_id, version=version).delete()
        RoomKeysVersion.objects.filter(user_id=user_id, version=version).update(deleted=True)


def bump_etag(user_id: str, version: int) -> None:
    RoomKeysVersion.objects.filter(user_id=user_id, version=version).update(etag=F("etag") + 1)


def count_room_keys(user_id: str, version: int) -> int:
    return RoomKey.objects.filter(user_id=user_id, version=version).count()


def room_keys(user_id: str, version: int, room_id: str | None = None, session_id: str | None = None) -> list[RoomKey]:
    rows = RoomKey.objects.filter(user_id=user_id, version=version)
    if room_id is not None:
        rows = rows.filter(room_id=room_id)
    if session_id is not None:
        rows = rows.filter(session_id=session_id)
    return list(rows.order_by("room_id", "session_id"))


def existing_room_keys(user_id: str, version: int, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RoomKey]:
    wanted = list(pairs)
    out: dict[tuple[str, str], RoomKey] = {}
    rooms = sorted({r for r, _ in wanted})
    if not rooms:
        return out
    wanted_set = set(wanted)
    for row in RoomKey.objects.filter(user_id=user_id, version=version, room_id__in=rooms):
        if (row.room_id, row.session_id) in wanted_set:
            out[(row.room_id, row.session_id)] = row
    return out


def save_room_keys(user_id: str, version: int, new: list[RoomKey], replace: list[RoomKey]) -> None:
    if new:
        RoomKey.objects.bulk_create(new)
    for row in replace:
        row.save(update_fields=["first_message_index", "forwarded_count", "is_verified", "session_data"])


def delete_room_keys(user_id: str, version: int, room_id: str | None = None, session_id: str | None = None) -> int:
    rows = RoomKey.objects.filter(user_id=user_id, version=version)
    if room_id is not None:
        rows = rows.filter(room_id=room_id)
    if session_id is not None:
        rows = rows.filter(session_id=session_id)
    deleted, _ = rows.delete()
    return deleted
