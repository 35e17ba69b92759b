"""Tables of rooms and events: the event graph, state groups, current state, memberships, send
idempotency and which event persister writes a room.

The event graph
  `EventRow` holds every event we know (the PDU as canonical JSON in `json`, plus server-local
  metadata that is never signed: outlier, rejected, soft-failed, the sender's txn id and device).
  `EventEdge` are its `prev_events`, `EventAuth` its `auth_events`; both name the other event by ID
  only, since a remote event may reference events we have not fetched. `ForwardExtremity` is the set
  of events with no successor yet: the `prev_events` of the next local event.

Stream and topological order
  `stream_ordering` is the event's position in the `events` stream (allocated last, inside the
  persisting transaction, by `persister.allocate_event_position`, from `apps.streams`); NULL for
  outliers, which are not part of the room's timeline. The topological ordering is `depth`.

State (see `state_store`)
  A `StateGroup` is an immutable snapshot of room state. It is stored either as a full snapshot
  (`prev_group` NULL, `delta_depth` 0) or as a delta against `prev_group` (`delta_depth` = length of
  the chain down to the nearest snapshot, bounded by `state_store.MAX_DELTA_CHAIN`). Its rows are
  `StateGroupState (type, state_key, event_id)`; in a delta, a NULL `event_id` removes the key.
  `EventToStateGroup` maps each non-outlier event to TWO groups: `state_group` is the state AFTER
  the event, `state_group_before` the state BEFORE it. They are equal for non-state and rejected
  events; for an accepted state event the after-group is the before-group plus the event.

Current state
  `CurrentState` is the resolved state at the room's forward extremities, one row per key, for fast
  reads; `RoomMembership` is each user's current membership (from the same member events), which
  answers "rooms of a user" and "members of a room" without reading state groups.
"""
from __future__ import annotations

from django.db import models


class Room(models.Model):
    room_id = models.CharField(max_length=255, primary_key=True)
    room_version = models.CharField(max_length=32)
    creator = models.CharField(max_length=255, null=True, blank=True)
    is_public = models.BooleanField(default=False, help_text="Published in the room directory.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "rooms"
        ordering = ("-created",)

    def __str__(self) -> str:
        return self.room_id


class EventRow(models.Model):
    event_id = models.CharField(max_length=255, primary_key=True)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="events")
    # Denormalised from the room so that an event can be rebuilt without a join (Synapse
    # event_json.format_version / room_version).
    room_version = models.CharField(max_length=32)
    type = models.CharField(max_length=255)
    state_key = models.CharField(max_length=255, null=True, blank=True)
    sender = models.CharField(max_length=255)
    depth = models.BigIntegerField()
    stream_ordering = models.BigIntegerField(null=True, blank=True, unique=True)
    origin_server_ts = models.BigIntegerField()
    received_ts = models.BigIntegerField()
    json = models.TextField(help_text="The PDU (without `unsigned`) as canonical JSON.")
    # Internal metadata: never part of the signed event.
    outlier = models.BooleanField(default=False)
    rejected_reason = models.TextField(null=True, blank=True)
    soft_failed = models.BooleanField(default=False)
    txn_id = models.CharField(max_length=255, null=True, blank=True)
    device_id = models.CharField(max_length=255, null=True, blank=True)
    redacted_by = models.CharField(max_length=255, null=True, blank=True)
    # The event persister that wrote the row (operators and tests can see how rooms are sharded).
    instance_name = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        db_table = "events"
        indexes = [
            models.Index(fields=["room", "stream_ordering"], name="events_room_stream"),
            models.Index(fields=["room", "depth", "stream_ordering"], name="events_room_topo"),
        ]

    def __str__(self) -> str:
        return self.event_id


class EventEdge(models.Model):
    """`prev_events` of an event."""

    event = models.ForeignKey(EventRow, on_delete=models.CASCADE, related_name="prev_edges")
    prev_event_id = models.CharField(max_length=255, db_index=True)

    class Meta:
        db_table = "event_edges"
        constraints = [models.UniqueConstraint(fields=["event", "prev_event_id"], name="event_edges_uniq")]


class EventAuth(models.Model):
    """`auth_events` of an event."""

    event = models.ForeignKey(EventRow, on_delete=models.CASCADE, related_name="auth_edges")
    auth_event_id = models.CharField(max_length=255)

    class Meta:
        db_table = "event_auth"
        constraints = [models.UniqueConstraint(fields=["event", "auth_event_id"], name="event_auth_uniq")]


class ForwardExtremity(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="+")
    event_id = models.CharField(max_length=255)

    class Meta:
        db_table = "event_forward_extremities"
        constraints = [models.UniqueConstraint(fields=["room", "event_id"], name="fwd_extremities_uniq")]


class StateGroup(models.Model):
    id = models.BigAutoField(primary_key=True)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="+")
    prev_group = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    delta_depth = models.IntegerField(default=0, help_text="0 for a full snapshot.")
    event_id = models.CharField(max_length=255, null=True, blank=True,
                                help_text="The event whose persisting created this group.")

    class Meta:
        db_table = "state_groups"


class StateGroupState(models.Model):
    """A row of a group: the whole state for a snapshot, the changed keys for a delta."""

    state_group = models.ForeignKey(StateGroup, on_delete=models.CASCADE, related_name="rows")
    type = models.CharField(max_length=255)
    state_key = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, null=True, blank=True, help_text="NULL: key removed (deltas).")

    class Meta:
        db_table = "state_groups_state"
        constraints = [models.UniqueConstraint(fields=["state_group", "type", "state_key"],
                                               name="state_groups_state_uniq")]


class EventToStateGroup(models.Model):
    event_id = models.CharField(max_length=255, primary_key=True)
    state_group = models.ForeignKey(StateGroup, on_delete=models.PROTECT, related_name="+",
                                    help_text="The state AFTER the event.")
    state_group_before = models.ForeignKey(StateGroup, on_delete=models.PROTECT, related_name="+", null=True,
                                           help_text="The state BEFORE the event (NULL: empty, i.e. the create event).")

    class Meta:
        db_table = "event_to_state_groups"


class CurrentState(models.Model):
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="+")
    type = models.CharField(max_length=255)
    state_key = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)
    membership = models.CharField(max_length=32, null=True, blank=True)

    class Meta:
        db_table = "current_state_events"
        constraints = [models.UniqueConstraint(fields=["room", "type", "state_key"], name="current_state_uniq")]


class RoomMembership(models.Model):
    """Each user's current membership of a room (from the current state's member event)."""

    user_id = models.CharField(max_length=255)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="+")
    membership = models.CharField(max_length=32)
    event_id = models.CharField(max_length=255)
    stream_ordering = models.BigIntegerField()
    # POST /rooms/{roomId}/forget: set on a leave or ban, reset by the next membership event (the
    # persister writes it False). A forgotten room is hidden from the user's room lists and history.
    forgotten = models.BooleanField(default=False)

    class Meta:
        db_table = "room_memberships"
        constraints = [models.UniqueConstraint(fields=["user_id", "room"], name="room_memberships_uniq")]
        indexes = [models.Index(fields=["room", "membership"], name="room_memberships_room")]


class TxnId(models.Model):
    """Send idempotency: a (user, device, room, txn id) names at most one event.

    Spec: client-server API, "Transaction identifiers" (scoped to the device)."""

    user_id = models.CharField(max_length=255)
    device_id = models.CharField(max_length=255)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="+")
    txn_id = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255)
    inserted_ts = models.BigIntegerField()

    class Meta:
        db_table = "event_txn_id"
        constraints = [models.UniqueConstraint(fields=["user_id", "device_id", "room", "txn_id"],
                                               name="event_txn_id_uniq")]


class RoomPersister(models.Model):
    """Which event-persister instance writes a room (DESIGN.md 4: ownership is data, not arithmetic).

    A new room is placed by a stable hash over `stream_writers.events`; a row can later be moved to
    another writer by a fenced hand-off."""

    room = models.OneToOneField(Room, on_delete=models.CASCADE, primary_key=True, db_column="room_id",
                                related_name="persister")
    instance_name = models.CharField(max_length=255, default="main")

    class Meta:
        db_table = "room_persisters"


# --- room aliases (apps/rooms/aliases.py) --------------------------------------------------------------

class RoomAlias(models.Model):
    """A local room alias `#localpart:our.server` -> room (client-server API, "Room aliases").

    Only aliases of this server live here; remote aliases are resolved over federation. `creator`
    may delete the alias (as may room moderators and server admins, see `aliases.delete_alias`)."""

    alias = models.CharField(max_length=255, primary_key=True)
    room = models.ForeignKey(Room, on_delete=models.CASCADE, db_column="room_id", related_name="aliases")
    creator = models.CharField(max_length=255)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "room_aliases"

    def __str__(self) -> str:
        return self.alias


# --- end of room aliases block ------------------------------------------------------------------------
