"""Who may use the admin API: a request with the access token of a server admin (`User.admin`), as in
Synapse. No token is 401 (M_MISSING_TOKEN), an unknown one 401 (M_UNKNOWN_TOKEN), anyone else's 403."""
from __future__ import annotations

from django.http import HttpRequest

from apps.accounts.auth import Requester, authenticate
from apps.core.errors import Codes, MatrixError


def require_server_admin(request: HttpRequest) -> Requester:
    requester = authenticate(request)
    if not requester.user.admin:
        raise MatrixError(Codes.FORBIDDEN, "You are not a server admin", 403)
    return requester
