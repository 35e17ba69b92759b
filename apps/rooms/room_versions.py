"""Room versions 1-12 as `shared/matrix-spec/content/rooms/` defines them: one row of feature flags per
version, so that code asks `rv.knock_join_rule` rather than comparing version strings."""
from __future__ import annotations

from dataclasses import dataclass

from apps.core.errors import Codes, MatrixError


@dataclass(frozen=True)
class RoomVersion:
    identifier: str
    # 1: server-generated event IDs `$random:server` carried in the event (v1, v2)
    # 2: `$` + standard base64 of the reference hash (v3)
    # 3: `$` + URL-safe base64 of the reference hash (v4+)
    event_format: int
    # 1: original algorithm (v1); 2: state resolution v2 (v2-v11); 21: v2.1 (v12)
    state_res: int
    # v5+: a signing key's valid_until_ts must cover the event's origin_server_ts
    enforce_key_validity: bool
    # v1-v5: m.room.aliases is authorised by its state_key's server, not power levels
    special_case_aliases_auth: bool
    # v6+: integers outside [-(2**53)+1, (2**53)-1] and floats are rejected
    strict_canonicaljson: bool
    # v6+: the `notifications` key of power levels is subject to the power level rules
    limit_notifications_power_levels: bool
    # v7+: `knock` join rule and membership
    knock_join_rule: bool
    # v8+: `restricted` join rule (join_authorised_via_users_server)
    restricted_join_rule: bool
    # v9+: redaction keeps `join_authorised_via_users_server`
    restricted_join_rule_fix: bool
    # v10+: `knock_restricted` join rule
    knock_restricted_join_rule: bool
    # v10+: power levels must be integers, not strings
    enforce_int_power_levels: bool
    # v11+: the create event has no `creator`; its sender is the creator
    implicit_room_creator: bool
    # v11+: the redaction algorithm of fragments/v11-redactions.md
    updated_redaction_rules: bool
    # v12: the room ID is `!` + the create event's reference hash; the create event has no room_id
    # and is not listed in auth_events
    room_id_from_create_event: bool
    # v12: creators (sender + additional_creators) have infinite power and are not in power levels
    privileged_creators: bool

    @property
    def knock_allowed(self) -> bool:
        return self.knock_join_rule


def _v(identifier: str, **flags) -> RoomVersion:
    base = dict(
        event_format=3, state_res=2, enforce_key_validity=False, special_case_aliases_auth=True,
        strict_canonicaljson=False, limit_notifications_power_levels=False, knock_join_rule=False,
        restricted_join_rule=False, restricted_join_rule_fix=False, knock_restricted_join_rule=False,
        enforce_int_power_levels=False, implicit_room_creator=False, updated_redaction_rules=False,
        room_id_from_create_event=False, privileged_creators=False,
    )
    base.update(flags)
    return RoomVersion(identifier, **base)


V1 = _v("1", event_format=1, state_res=1)
V2 = _v("2", event_format=1)
V3 = _v("3", event_format=2)
V4 = _v("4")
V5 = _v("5", enforce_key_validity=True)
_V6 = dict(enforce_key_validity=True, special_case_aliases_auth=False, strict_canonicaljson=True,
           limit_notifications_power_levels=True)
V6 = _v("6", **_V6)
V7 = _v("7", **_V6, knock_join_rule=True)
V8 = _v("8", **_V6, knock_join_rule=True, restricted_join_rule=True)
_V9 = dict(_V6, knock_join_rule=True, restricted_join_rule=True, restricted_join_rule_fix=True)
V9 = _v("9", **_V9)
_V10 = dict(_V9, knock_restricted_join_rule=True, enforce_int_power_levels=True)
V10 = _v("10", **_V10)
_V11 = dict(_V10, implicit_room_creator=True, updated_redaction_rules=True)
V11 = _v("11", **_V11)
V12 = _v("12", **_V11, state_res=21, room_id_from_create_event=True, privileged_creators=True)

KNOWN_ROOM_VERSIONS: dict[str, RoomVersion] = {v.identifier: v for v in (V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12)}


def get_room_version(identifier: object) -> RoomVersion:
    """The version named `identifier`, or M_UNSUPPORTED_ROOM_VERSION."""
    rv = KNOWN_ROOM_VERSIONS.get(identifier) if isinstance(identifier, str) else None
    if rv is None:
        raise MatrixError(Codes.UNSUPPORTED_ROOM_VERSION, f"Room version {identifier!r} is not supported", 400)
    return rv
