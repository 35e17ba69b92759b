"""Database access of message retention: the recorded policies of retention events, and the policies of
rooms (through the rooms' current state)."""
from __future__ import annotations

from typing import Iterable

from apps.rooms.models import CurrentState, Room

from .models import RetentionRule
from .policy import EVENT_TYPE, RetentionPolicy


def record_rule(event_id: str, room_id: str, policy: RetentionPolicy) -> None:
    RetentionRule.objects.get_or_create(event_id=event_id, defaults={
        "room_id": room_id, "min_lifetime": policy.min_lifetime, "max_lifetime": policy.max_lifetime})


def _current_rules(room_ids: Iterable[str] | None):
    current = CurrentState.objects.filter(type=EVENT_TYPE, state_key="")
    if room_ids is not None:
        current = current.filter(room_id__in=list(room_ids))
    # One query: the rules of the rooms' current retention events (a subquery on the current state's
    # unique (room, type, state_key) index).
    return (RetentionRule.objects.filter(event_id__in=current.values("event_id"))
            .values_list("room_id", "min_lifetime", "max_lifetime"))


def room_rules(room_ids: Iterable[str]) -> dict[str, RetentionPolicy]:
    """room -> the policy its current retention event states (rooms without a valid one left out)."""
    room_ids = set(room_ids)
    if not room_ids:
        return {}
    return {r: RetentionPolicy(mn, mx) for r, mn, mx in _current_rules(room_ids)}


def all_room_rules() -> dict[str, RetentionPolicy]:
    """Every room's stated policy (rooms without a valid current retention event left out)."""
    return {r: RetentionPolicy(mn, mx) for r, mn, mx in _current_rules(None)}


def all_room_ids() -> list[str]:
    return list(Room.objects.values_list("room_id", flat=True))

