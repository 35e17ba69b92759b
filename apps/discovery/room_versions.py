"""The room versions advertised by `m.room_versions` in /capabilities: exactly the versions
`apps.rooms.room_versions` implements, all stable (spec v1.16), so the server never advertises a
version it cannot handle."""
from __future__ import annotations

from apps.rooms.room_versions import KNOWN_ROOM_VERSIONS as _IMPLEMENTED

STABLE = "stable"

KNOWN_ROOM_VERSIONS: dict[str, str] = {identifier: STABLE for identifier in _IMPLEMENTED}


def is_known(version: str) -> bool:
    return version in KNOWN_ROOM_VERSIONS
