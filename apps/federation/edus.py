"""EDUs received in transactions, dispatched by type to the apps that own them.

    from apps.federation.edus import register_edu_handler
    register_edu_handler("m.typing", on_typing)   # on_typing(origin: str, content: dict) -> None

An app registers from its `AppConfig.ready()`. One handler per type (registering another replaces
it). Room ACLs are applied before the handler sees `m.typing` and `m.receipt` EDUs. An EDU of a
type nobody handles is ignored, as is a malformed one; a handler's failure is logged
and does not fail the transaction (spec: server-server API, "EDUs" — they are not persisted and
the sender does not retry them individually).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

EduHandler = Callable[[str, dict], None]

_handlers: dict[str, EduHandler] = {}


def register_edu_handler(edu_type: str, fn: EduHandler) -> EduHandler:
    _handlers[edu_type] = fn
    return fn


def unregister_edu_handler(edu_type: str) -> None:
    _handlers.pop(edu_type, None)


def handler_for(edu_type: str) -> EduHandler | None:
    return _handlers.get(edu_type)


def _apply_acls(origin: str, edu_type: str, content: dict) -> dict | None:
    """Spec: server-server API, "Server Access Control Lists": typing notifications for a room the
    origin is denied are ignored, and so are all receipts for such a room."""
    from . import acl

    if edu_type == "m.typing":
        room_id = content.get("room_id")
        return content if isinstance(room_id, str) and acl.is_allowed(room_id, origin) else None
    if edu_type == "m.receipt":
        kept = {room_id: v for room_id, v in content.items() if acl.is_allowed(room_id, origin)}
        return kept or None
    return content


def dispatch(origin: str, edu: Any) -> bool:
    """Hands one EDU of a transaction to its handler; True if one ran without error."""
    if not isinstance(edu, dict) or not isinstance(edu.get("edu_type"), str):
        return False
    fn = _handlers.get(edu["edu_type"])
    if fn is None:
        return False
    content = edu.get("content")
    if not isinstance(content, dict):
        return False
    content = _apply_acls(origin, edu["edu_type"], content)
    if content is None:
        return False
    try:
        fn(origin, content)
    except Exception:
        logger.exception("EDU handler for %s from %s failed", edu["edu_type"], origin)
        return False
    return True
