"""The room versions this server knows, as advertised by `m.room_versions` in /capabilities.

The one list of them: room creation and the federation event pipeline read it too, so the server
never advertises a version it cannot handle (spec: rooms/ "Room versions"; DESIGN section 5).
"""
from __future__ import annotations

STABLE = "stable"
UNSTABLE = "unstable"

# Spec room versions 1-12, all stable as of spec v1.16.
KNOWN_ROOM_VERSIONS: dict[str, str] = {str(v): STABLE for v in range(1, 13)}


def is_known(version: str) -> bool:
    return version in KNOWN_ROOM_VERSIONS
