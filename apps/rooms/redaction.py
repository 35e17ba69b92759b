"""The redaction algorithm of each room version: which keys of a PDU survive a redaction.

The same algorithm serves three purposes, so it must be byte-exact with other servers:
  * what a client sees of a redacted event (`prune_event`, which keeps our server-local `unsigned`),
  * what the server signs and checks signatures over (`apps.rooms.event_signing`),
  * what the reference hash, hence the event ID, covers from v3 on (`apps.rooms.hashing`).

Spec: rooms/fragments/v1-redactions.md (v1-v5), v6-redactions.md (v6, v7: no `aliases`), v8.md
(join_rules keeps `allow`), v9-redactions.md (v9, v10: member keeps
`join_authorised_via_users_server`), v11-redactions.md (v11, v12: `origin`, `membership` and
`prev_state` go; create keeps all of its content; power levels keep `invite`; member keeps
`third_party_invite.signed`; redaction keeps `content.redacts`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .events import Event
from .room_versions import RoomVersion

# Top-level keys every version keeps.
_KEPT_KEYS = frozenset({
    "event_id", "type", "room_id", "sender", "state_key", "content", "hashes", "signatures", "depth",
    "prev_events", "auth_events", "origin_server_ts",
})
# Top-level keys versions 1-10 keep as well; v11 (MSC2176/MSC3989) dropped them.
_PRE_V11_KEPT_KEYS = _KEPT_KEYS | {"prev_state", "origin", "membership"}

_POWER_LEVELS_KEYS = ("ban", "events", "events_default", "kick", "redact", "state_default", "users",
                      "users_default")


def _pruned_content(rv: RoomVersion, event_type: Any, content: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}

    def keep(*keys: str) -> None:
        for key in keys:
            if key in content:
                kept[key] = content[key]

    if event_type == "m.room.member":
        keep("membership")
        if rv.restricted_join_rule_fix:  # v9+
            keep("join_authorised_via_users_server")
        if rv.updated_redaction_rules:  # v11+: only `signed` of `third_party_invite`
            tpi = content.get("third_party_invite")
            if isinstance(tpi, Mapping):
                # As Synapse and Ruma do: an object without `signed` becomes `{}`, a non-object goes.
                kept["third_party_invite"] = {"signed": tpi["signed"]} if "signed" in tpi else {}
    elif event_type == "m.room.create":
        if rv.updated_redaction_rules:  # v11+: the whole content is protected
            kept = dict(content)
        else:
            keep("creator")
    elif event_type == "m.room.join_rules":
        keep("join_rule")
        if rv.restricted_join_rule:  # v8+
            keep("allow")
    elif event_type == "m.room.power_levels":
        keep(*_POWER_LEVELS_KEYS)
        if rv.updated_redaction_rules:  # v11+
            keep("invite")
    elif event_type == "m.room.aliases":
        if rv.special_case_aliases_auth:  # v1-v5 only
            keep("aliases")
    elif event_type == "m.room.history_visibility":
        keep("history_visibility")
    elif event_type == "m.room.redaction":
        if rv.updated_redaction_rules:  # v11+: `redacts` moved into content
            keep("redacts")
    return kept


def prune_event_dict(rv: RoomVersion, pdu: Mapping[str, Any]) -> dict[str, Any]:
    """The redacted copy of `pdu` under `rv`'s rules. `pdu` is not modified; kept values are shared,
    not copied (callers that mutate the result must copy what they change).

    `unsigned` is not in any version's list, so it is removed: this is the form that is hashed and
    signed. Use `prune_event` for what a client is shown."""
    keys = _PRE_V11_KEPT_KEYS if not rv.updated_redaction_rules else _KEPT_KEYS
    pruned = {k: v for k, v in pdu.items() if k in keys}
    content = pdu.get("content")
    pruned["content"] = _pruned_content(rv, pdu.get("type"), content if isinstance(content, Mapping) else {})
    return pruned


def prune_event(event: Event) -> Event:
    """`event` as it is kept and served after it has been redacted: the PDU pruned per its room
    version, the server-local `unsigned` and internal metadata carried over (the caller adds
    `redacted_because`)."""
    pruned = Event(prune_event_dict(event.room_version, event.pdu), event.room_version,
                   unsigned=dict(event.unsigned), internal=event.internal)
    # Redaction never changes the event ID (v3+ hashes the redacted form anyway): reuse a computed one.
    if "event_id" in event.__dict__:
        pruned.__dict__["event_id"] = event.__dict__["event_id"]
    return pruned
