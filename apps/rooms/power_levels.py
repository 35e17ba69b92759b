"""Power levels as the authorisation rules read them (pure functions over an auth-events mapping).

Sources: `m.room.power_levels` in the client-server API (defaults), the room version pages
(`shared/matrix-spec/content/rooms/`): `fragments/v1-stringy-power-levels.md` (v1-v9: integer values may
be strings), `fragments/v1-floaty-power-levels.md` (v1-v5: floats are truncated), v10 "Values in
`m.room.power_levels` events must be integers", v12 "room creators have infinitely high power level".

`auth_events` is a mapping `(event type, state_key) -> Event` (the event's auth events, or the room
state it is checked against); only the create and power-levels entries are read here.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from .events import Event, StateKey
from .room_versions import RoomVersion

CREATE_KEY: StateKey = ("m.room.create", "")
POWER_LEVELS_KEY: StateKey = ("m.room.power_levels", "")

# The named levels of the power-levels content and their defaults when absent (client-server API,
# m.room.power_levels): ban/kick/redact 50, invite 0, state_default 50, events_default 0, users_default 0.
NAMED_LEVEL_DEFAULTS: dict[str, int] = {
    "users_default": 0, "events_default": 0, "state_default": 50,
    "ban": 50, "redact": 50, "kick": 50, "invite": 0,
}
# The power level of the creator when the room has no power-levels event (v1-v11).
CREATOR_DEFAULT_LEVEL = 100

# fragments/v1-stringy-power-levels.md: a base-10 integer with leading zeroes allowed, an optional single
# sign, and any leading/trailing whitespace. ASCII only: Python's int() would also take "1_0" or
# non-ASCII digits, which the spec's format does not.
_STRINGY_INT = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+[ \t\n\r\f\v]*", re.ASCII)

PowerLevel = int | float  # float only for math.inf (v12 creators)


def parse_power_level(value: Any, rv: RoomVersion) -> int | None:
    """`value` as a power level under `rv`'s rules, or None when it is not a valid power level.

    - integers (not booleans) are valid in every version;
    - v1-v9 (not `enforce_int_power_levels`): strings in the stringy format are valid;
    - v1-v5 (not `strict_canonicaljson`): finite floats are valid and truncated at the decimal point
      (`5.114698E4` -> 51146); Infinity and NaN are not.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if rv.enforce_int_power_levels:
        return None
    if isinstance(value, str):
        return int(value.strip(" \t\n\r\f\v")) if _STRINGY_INT.fullmatch(value) else None
    if isinstance(value, float) and not rv.strict_canonicaljson:
        return int(value) if math.isfinite(value) else None
    return None


def creators(create_event: Event | None) -> set[str]:
    """The room creators named by `create_event`.

    v1-v10: `content.creator`; v11: the create event's `sender` (implicit_room_creator);
    v12: the `sender` plus every string of `content.additional_creators` (privileged_creators).
    """
    if create_event is None:
        return set()
    rv = create_event.room_version
    if rv.privileged_creators:
        extra = create_event.content.get("additional_creators")
        result = {create_event.sender}
        if isinstance(extra, list):
            result.update(u for u in extra if isinstance(u, str))
        return result
    if rv.implicit_room_creator:
        return {create_event.sender}
    creator = create_event.content.get("creator")
    return {creator} if isinstance(creator, str) else set()


def _room_version(auth_events: Mapping[StateKey, Event], rv: RoomVersion | None = None) -> RoomVersion | None:
    if rv is not None:
        return rv
    for key in (POWER_LEVELS_KEY, CREATE_KEY):
        ev = auth_events.get(key)
        if ev is not None:
            return ev.room_version
    return None


def _pl_content(auth_events: Mapping[StateKey, Event]) -> dict[str, Any] | None:
    ev = auth_events.get(POWER_LEVELS_KEY)
    if ev is None:
        return None
    content = ev.content
    return content if isinstance(content, dict) else {}


def get_user_power_level(user_id: str, auth_events: Mapping[StateKey, Event], rv: RoomVersion) -> PowerLevel:
    """The power level of `user_id`.

    v12: room creators have an infinite power level whatever the power-levels event says.
    With a power-levels event: `users[user_id]`, else `users_default`, else 0.
    Without one: v1-v11 the creator has 100 and everyone else 0; v12 everyone but the creators 0.
    """
    create_event = auth_events.get(CREATE_KEY)
    if rv.privileged_creators and user_id in creators(create_event):
        return math.inf
    content = _pl_content(auth_events)
    if content is None:
        if not rv.privileged_creators and user_id in creators(create_event):
            return CREATOR_DEFAULT_LEVEL
        return 0
    users = content.get("users")
    if isinstance(users, dict) and user_id in users:
        level = parse_power_level(users[user_id], rv)
        if level is not None:
            return level
    return get_named_level(auth_events, "users_default", 0, rv)


def get_named_level(auth_events: Mapping[StateKey, Event], name: str, default: int | None = None,
                    rv: RoomVersion | None = None) -> int:
    """The level `name` (`ban`, `kick`, `invite`, `redact`, `state_default`, `events_default`,
    `users_default`) of the power-levels event, or `default` (the spec's default for the name when not
    given) when there is no power-levels event, the key is absent, or its value is not a valid level."""
    if default is None:
        default = NAMED_LEVEL_DEFAULTS.get(name, 0)
    content = _pl_content(auth_events)
    rv = _room_version(auth_events, rv)
    if content is None or name not in content or rv is None:
        return default
    level = parse_power_level(content[name], rv)
    return default if level is None else level


def get_notification_level(auth_events: Mapping[StateKey, Event], key: str = "room", default: int = 50) -> int:
    """`notifications[key]` of the power-levels event (`room` defaults to 50)."""
    content = _pl_content(auth_events)
    rv = _room_version(auth_events)
    if content is None or rv is None:
        return default
    notifications = content.get("notifications")
    if not isinstance(notifications, dict) or key not in notifications:
        return default
    level = parse_power_level(notifications[key], rv)
    return default if level is None else level


def required_level_for_event(event: Event, auth_events: Mapping[StateKey, Event]) -> int:
    """The *required power level* for `event`'s type: `events[type]` if given, else `state_default`
    (50) for state events and `events_default` (0) for the others (client-server API,
    m.room.power_levels). Without a power-levels event the same defaults apply."""
    return required_level(event.type, event.is_state(), auth_events, event.room_version)


def required_level(event_type: str, is_state: bool, auth_events: Mapping[StateKey, Event],
                   rv: RoomVersion | None = None) -> int:
    content = _pl_content(auth_events)
    rv = _room_version(auth_events, rv)
    if content is not None and rv is not None:
        events = content.get("events")
        if isinstance(events, dict) and event_type in events:
            level = parse_power_level(events[event_type], rv)
            if level is not None:
                return level
    if is_state:
        return get_named_level(auth_events, "state_default", 50, rv)
    return get_named_level(auth_events, "events_default", 0, rv)
