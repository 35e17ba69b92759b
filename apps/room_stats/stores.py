"""Every query of the statistics: the durable position, the events after it, and the figures of a set of
rooms or users computed from the current-state tables of apps.rooms, a fixed number of queries per set
whatever its size (each read is one grouped query over all the rooms of a chunk)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Q, Value
from django.db.models.functions import Concat

from apps.rooms.models import CurrentState, EventRow, Room, RoomMembership

from .models import RoomStats, StatsPosition, UserStats

STREAM = "events"
MEMBERSHIPS = ("join", "invite", "leave", "ban", "knock")
# Current-state entries (state_key "") whose content gives a descriptive field.
DESCRIPTIVE_TYPES = ("m.room.create", "m.room.name", "m.room.canonical_alias", "m.room.topic", "m.room.avatar",
                     "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access", "m.room.encryption")


def now_ms() -> int:
    return int(time.time() * 1000)


# --- position ----------------------------------------------------------------------------------------------

def persisted_up_to() -> int:
    """The `events` position below which everything is committed, read from `stream_positions` (a Celery
    worker hears no replication traffic): the minimum over the configured writers."""
    from apps.streams.stores import writer_positions
    from hsproject import instance

    positions = writer_positions(STREAM).get(STREAM, {})
    return min(positions.get(w, 0) for w in (instance.writers_of(STREAM) or ("main",)))


def ensure_position(start_at: int) -> None:
    """The position row; a new one starts at `start_at`: rooms and users computed in full (they have no
    row yet) stand for everything before it."""
    StatsPosition.objects.get_or_create(stream=STREAM, defaults={"stream_id": start_at})


def lock_position() -> int | None:
    """The position, locked for this transaction; None while another updater holds it (PostgreSQL;
    SQLite serialises writers by itself)."""
    row = StatsPosition.objects.select_for_update(skip_locked=True).filter(stream=STREAM).first()
    return None if row is None else row.stream_id


def set_position(stream_id: int) -> None:
    StatsPosition.objects.filter(stream=STREAM).update(stream_id=stream_id)


def get_position() -> int | None:
    return StatsPosition.objects.filter(stream=STREAM).values_list("stream_id", flat=True).first()


def events_after(after: int, up_to: int, limit: int) -> list[tuple[int, str, str, str | None]]:
    """(stream_ordering, room_id, type, state_key) of the events in (after, up_to], in stream order (all
    of them: an out-of-band membership, a soft-failed or a merging event can move a room's state too)."""
    return list(EventRow.objects.filter(stream_ordering__gt=after, stream_ordering__lte=up_to)
                .order_by("stream_ordering").values_list("stream_ordering", "room_id", "type", "state_key")[:limit])


# --- rooms and users without a row (never computed) ------------------------------------------------------

def rooms_without_stats(limit: int) -> list[str]:
    return list(Room.objects.filter(stats__isnull=True).order_by("room_id").values_list("room_id", flat=True)[:limit])


def local_users_without_stats(limit: int) -> list[str]:
    from apps.accounts.models import User

    suffix = f":{settings.HS.server_name}"
    has_row = UserStats.objects.filter(user_id=Concat(Value("@"), OuterRef("localpart"), Value(suffix)))
    localparts = (User.objects.filter(~Exists(has_row)).order_by("localpart")
                  .values_list("localpart", flat=True)[:limit])
    return [f"@{lp}{suffix}" for lp in localparts]


# --- computing ------------------------------------------------------------------------------------------------

@dataclass
class RoomFigures:
    counts: dict[str, int] = field(default_factory=dict)
    local_joined: int = 0
    state_events: int = 0
    descriptive: dict[str, object] = field(default_factory=dict)


def _content(raw: str) -> dict:
    content = json.loads(raw).get("content")
    return content if isinstance(content, dict) else {}


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def descriptive_fields(etype: str, content: dict) -> dict[str, object]:
    """The room_stats_state fields one current-state event gives (non-string values are ignored)."""
    if etype == "m.room.create":
        return {"room_type": _text(content.get("type")), "is_federatable": content.get("m.federate", True) is not False}
    key, field_name = {
        "m.room.name": ("name", "name"),
        "m.room.canonical_alias": ("alias", "canonical_alias"),
        "m.room.topic": ("topic", "topic"),
        "m.room.avatar": ("url", "avatar"),
        "m.room.join_rules": ("join_rule", "join_rules"),
        "m.room.history_visibility": ("history_visibility", "history_visibility"),
        "m.room.guest_access": ("guest_access", "guest_access"),
        "m.room.encryption": ("algorithm", "encryption"),
    }[etype]
    return {field_name: _text(content.get(key))}


def room_figures(room_ids: list[str]) -> dict[str, RoomFigures]:
    """The counts and descriptive fields of these rooms' current state (four queries); a room that no
    longer exists (purged since its events were read) is left out."""
    out: dict[str, RoomFigures] = {}
    for room_id, version, creator in Room.objects.filter(room_id__in=room_ids).values_list(
            "room_id", "room_version", "creator"):
        out[room_id] = RoomFigures(descriptive={"room_version": version, "creator": creator})
    room_ids = list(out)
    if not room_ids:
        return out
    local = Q(user_id__endswith=f":{settings.HS.server_name}")
    for room_id, membership, n, n_local in (
            RoomMembership.objects.filter(room_id__in=room_ids).values_list("room_id", "membership")
            .annotate(n=Count("id"), n_local=Count("id", filter=local)).order_by()):
        out[room_id].counts[membership] = n
        if membership == "join":
            out[room_id].local_joined = n_local
    for room_id, n in (CurrentState.objects.filter(room_id__in=room_ids).values_list("room_id")
                       .annotate(n=Count("id")).order_by()):
        out[room_id].state_events = n
    described = CurrentState.objects.filter(room_id__in=room_ids, state_key="", type__in=DESCRIPTIVE_TYPES)
    for room_id, etype, raw in EventRow.objects.filter(event_id__in=described.values("event_id")).values_list(
            "room_id", "type", "json"):
        out[room_id].descriptive.update(descriptive_fields(etype, _content(raw)))
    return out


ROOM_FIELDS = ("current_state_events", "joined_members", "invited_members", "left_members", "banned_members",
               "knocked_members", "local_users_in_room", "name", "canonical_alias", "topic", "avatar", "join_rules",
               "history_visibility", "guest_access", "encryption", "room_type", "is_federatable", "creator",
               "room_version", "completed_stream_id", "updated_ts")


def save_room_stats(figures: dict[str, RoomFigures], stream_id: int) -> None:
    """Write the rows of these rooms (one upsert)."""
    now = now_ms()
    rows = []
    for room_id, f in figures.items():
        d = f.descriptive
        rows.append(RoomStats(
            room_id=room_id, current_state_events=f.state_events, joined_members=f.counts.get("join", 0),
            invited_members=f.counts.get("invite", 0), left_members=f.counts.get("leave", 0),
            banned_members=f.counts.get("ban", 0), knocked_members=f.counts.get("knock", 0),
            local_users_in_room=f.local_joined, name=d.get("name"), canonical_alias=d.get("canonical_alias"),
            topic=d.get("topic"), avatar=d.get("avatar"), join_rules=d.get("join_rules"),
            history_visibility=d.get("history_visibility"), guest_access=d.get("guest_access"),
            encryption=d.get("encryption"), room_type=d.get("room_type"),
            is_federatable=d.get("is_federatable", True), creator=d.get("creator"),
            room_version=d.get("room_version"), completed_stream_id=stream_id, updated_ts=now))
    if rows:
        RoomStats.objects.bulk_create(rows, update_conflicts=True, unique_fields=["room"],
                                      update_fields=list(ROOM_FIELDS))


def save_user_stats(user_ids: list[str], stream_id: int) -> None:
    """Count and write the joined rooms of these users (two queries)."""
    if not user_ids:
        return
    joined = dict(RoomMembership.objects.filter(user_id__in=user_ids, membership="join").values_list("user_id")
                  .annotate(n=Count("id")).order_by())
    UserStats.objects.bulk_create(
        [UserStats(user_id=u, joined_rooms=joined.get(u, 0), completed_stream_id=stream_id) for u in user_ids],
        update_conflicts=True, unique_fields=["user_id"], update_fields=["joined_rooms", "completed_stream_id"])
