"""A user's effective ruleset: the server-default rules merged with the user's own, in priority order.

Order (spec "Predefined Rules"): `.m.rule.master` first, always; then per kind in the order override,
content, room, sender, underride the user's rules of the kind (most important first) followed by the
server-default rules of the kind. A user's changes to a default rule (enabled, actions) apply to it.

`rulesets_for(user_ids)` is what event evaluation uses: cached per process keyed by (user, version of
their rules), where the version is the `push_rules` position of the user's last change, read in one
query for all members of a room. A user who never changed anything has version 0 and the defaults,
with no query at all; a change anywhere bumps the version, so a stale entry is never read.
"""
from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any, Iterable

from . import default_rules, stores
from .evaluator import KINDS

Ruleset = tuple[tuple[str, dict[str, Any]], ...]

_CACHE_SIZE = 20000
_cache: "OrderedDict[tuple[str, int], Ruleset]" = OrderedDict()
_cache_lock = threading.Lock()


def _apply_default_setting(rule: dict[str, Any], setting: dict[str, Any] | None) -> dict[str, Any]:
    if setting:
        if setting.get("enabled") is not None:
            rule["enabled"] = setting["enabled"]
        if setting.get("actions") is not None:
            rule["actions"] = setting["actions"]
    return rule


def by_kind(user_id: str, stored: stores.StoredRules) -> dict[str, list[dict[str, Any]]]:
    """The ruleset as the API shows it: kind -> rules in priority order (master first in override)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        defaults = [_apply_default_setting(r, stored.defaults.get(r["rule_id"]))
                    for r in default_rules.for_user(kind, user_id)]
        own = [{k: v for k, v in r.items() if k != "priority"} for r in stored.user.get(kind, [])]
        if kind == "override" and defaults and defaults[0]["rule_id"] == default_rules.MASTER:
            out[kind] = [defaults[0], *own, *defaults[1:]]
        else:
            out[kind] = [*own, *defaults]
    return out


def ordered(user_id: str, stored: stores.StoredRules) -> Ruleset:
    kinds = by_kind(user_id, stored)
    return tuple((kind, rule) for kind in KINDS for rule in kinds[kind])


def ruleset_for_api(user_id: str) -> dict[str, list[dict[str, Any]]]:
    return copy.deepcopy(by_kind(user_id, stores.load_rules([user_id])[user_id]))


def rulesets_for(user_ids: Iterable[str]) -> dict[str, Ruleset]:
    """Each user's ordered ruleset for evaluation: at most one query for the versions and two for the
    rules of users whose current version is not cached."""
    ids = list(dict.fromkeys(user_ids))
    versions = stores.rules_versions(ids)
    out: dict[str, Ruleset] = {}
    missing: list[str] = []
    with _cache_lock:
        for uid in ids:
            key = (uid, versions.get(uid, 0))
            hit = _cache.get(key)
            if hit is None:
                missing.append(uid)
            else:
                _cache.move_to_end(key)
                out[uid] = hit
    if missing:
        customised = [u for u in missing if u in versions]
        loaded = stores.load_rules(customised)
        with _cache_lock:
            for uid in missing:
                rs = ordered(uid, loaded.get(uid) or stores.StoredRules())
                out[uid] = rs
                _cache[(uid, versions.get(uid, 0))] = rs
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return out


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
