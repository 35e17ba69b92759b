"""HTTP endpoint of VoIP: getTurnServer."""
from __future__ import annotations

from django.conf import settings

from apps.accounts.auth import authenticate
from apps.core.errors import Codes, MatrixError
from apps.core.http import Endpoint

from . import handlers


class GetTurnServerView(Endpoint):
    operation_id = "getTurnServer"

    def handle(self, request):
        requester = authenticate(request, allow_guest=True)
        cfg = settings.HS.voip
        if requester.is_guest and not cfg.turn_allow_guests:
            raise MatrixError(Codes.FORBIDDEN, "Guest access to TURN servers is disabled", 403)
        return handlers.turn_server(cfg, requester.user_id)
