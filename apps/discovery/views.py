"""Discovery endpoints: what the server supports and where it is."""
from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint

from .room_versions import KNOWN_ROOM_VERSIONS
from .support import support_document

# Only versions whose required endpoints this server really serves.
SUPPORTED_VERSIONS = ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"]


class GetVersionsView(Endpoint):
    """GET /_matrix/client/versions"""

    operation_id = "getVersions"

    def handle(self, request, **kwargs):
        return {"versions": SUPPORTED_VERSIONS, "unstable_features": unstable_features()}


def unstable_features() -> dict[str, bool]:
    """What clients look for before using an unstable API (Element Call: delayed events)."""
    from django.conf import settings

    return {"org.matrix.msc4140": settings.HS.max_event_delay_duration_ms is not None}


class GetWellknownView(Endpoint):
    """GET /.well-known/matrix/client

    Clients find the homeserver from the user's server name with this (spec: client-server API,
    "Server Discovery"); it is only useful when the server name's host routes here, otherwise the
    operator serves the same document from the web server of the server name."""

    operation_id = "getWellknown"

    def handle(self, request, **kwargs):
        return {"m.homeserver": {"base_url": settings.HS.public_baseurl}}


class GetWellknownSupportView(Endpoint):
    """GET /.well-known/matrix/support

    Who runs this server and where users get help (spec: support.yaml), from `admin_contact` and
    `support_page` (see support.py); 404 M_NOT_FOUND when neither is configured."""

    operation_id = "getWellknownSupport"

    def handle(self, request, **kwargs):
        doc = support_document()
        if doc is None:
            raise MatrixError(Codes.NOT_FOUND, "No support information is configured", 404)
        return doc


def split_server_name(server_name: str) -> tuple[str, int | None]:
    """`host[:port]` -> (host, port), IPv6 literals kept in brackets (spec: appendices, "Server Name")."""
    if server_name.startswith("["):
        host, _, rest = server_name.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else None
    else:
        host, sep, port = server_name.partition(":")
        port = port if sep else None
    return host, int(port) if port else None


def server_delegation() -> str:
    # As Synapse does: a request for https://<server_name>/.well-known/matrix/server reached us, so
    # federation can reach us on port 443 of the server name (or its explicit port) rather than 8448.
    host, port = split_server_name(settings.HS.server_name)
    return f"{host}:{port or 443}"


class GetWellKnownServerView(Endpoint):
    """GET /.well-known/matrix/server (served only with `serve_server_wellknown: true`)"""

    operation_id = "getWellKnown"

    def handle(self, request, **kwargs):
        if not settings.HS.serve_server_wellknown:
            raise MatrixError(Codes.NOT_FOUND, ".well-known/matrix/server is not served here", 404)
        return {"m.server": server_delegation()}


def enabled(flag: bool) -> dict:
    return {"enabled": flag}


class GetCapabilitiesView(Endpoint):
    """GET /_matrix/client/v3/capabilities"""

    operation_id = "getCapabilities"

    def handle(self, request, **kwargs):
        from apps.accounts.auth import authenticate

        authenticate(request, allow_guest=True)
        hs = settings.HS
        return {"capabilities": {
            "m.change_password": enabled(hs.password_enabled),
            "m.room_versions": {"default": hs.default_room_version, "available": dict(KNOWN_ROOM_VERSIONS)},
            "m.set_displayname": enabled(True),
            "m.set_avatar_url": enabled(True),
            # No identity-server integration, and no login-token flow (MSC3882) yet.
            "m.3pid_changes": enabled(False),
            "m.get_login_token": enabled(False),
        }}


class HealthView(Endpoint):
    """GET /health: 200 `OK` while this process can serve requests (for load balancers and orchestrators)."""

    operation_id = "health"

    def handle(self, request, **kwargs):
        return HttpResponse("OK", content_type="text/plain; charset=utf-8")
