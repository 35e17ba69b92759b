"""Server access control lists (`m.room.server_acl`) applied to requests from other servers.

Spec: client-server API, "Server Access Control Lists (ACLs) for rooms" (event schema
m.room.server_acl) and server-server API, "Server Access Control Lists (ACLs)": a server denied by
the room's current ACL gets 403 M_FORBIDDEN on the room's endpoints, and its PDUs for the room are
ignored with an error in the /send response.

Matching (event schema): the port is stripped from the server name; an IP literal is denied when
`allow_ip_literals` is false; then `deny` wins over `allow`; a server matched by neither is denied
(`allow` defaults to an empty list). Globs use `*` (any run of characters) and `?` (one character),
compared case-insensitively as host names are.
"""
from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import Any

from apps.core.errors import Codes, MatrixError
from apps.rooms import state_store, stores

ACL_KEY = ("m.room.server_acl", "")


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def _host(server_name: str) -> str:
    if server_name.startswith("["):
        return server_name[1:].split("]", 1)[0]
    host, _, port = server_name.rpartition(":")
    return host if host and port.isdigit() else server_name


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _globs(content: dict, key: str) -> list[str]:
    value = content.get(key, [])
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def server_allowed(content: Any, server_name: str) -> bool:
    """Whether `server_name` passes the ACL whose content is `content` (None: no ACL, allowed)."""
    if not isinstance(content, dict):
        return True
    host = _host(server_name)
    if content.get("allow_ip_literals", True) is False and _is_ip_literal(host):
        return False
    if any(_glob(p).fullmatch(host) for p in _globs(content, "deny")):
        return False
    return any(_glob(p).fullmatch(host) for p in _globs(content, "allow"))


def acl_content(room_id: str) -> dict | None:
    event_id = state_store.current_state(room_id, [ACL_KEY]).get(ACL_KEY)
    event = stores.get_event(event_id) if event_id else None
    return event.content if event is not None else None


def is_allowed(room_id: str, server_name: str) -> bool:
    return server_allowed(acl_content(room_id), server_name)


def check(room_id: str, server_name: str) -> None:
    """403 M_FORBIDDEN when the room's current ACL denies `server_name`."""
    if not is_allowed(room_id, server_name):
        raise MatrixError(Codes.FORBIDDEN, "Server is banned from room", 403)
