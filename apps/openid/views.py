"""HTTP endpoints of OpenID: requestOpenIdToken (client) and exchangeOpenIdToken (federation)."""
from __future__ import annotations

from apps.accounts.auth import authenticate
from apps.core.http import Endpoint, json_body

from . import handlers


class RequestOpenIdTokenView(Endpoint):
    operation_id = "requestOpenIdToken"

    def handle(self, request, user_id: str):
        requester = authenticate(request)
        json_body(request)  # spec: an empty object, reserved for future expansion
        return handlers.request_token(requester.user_id, user_id)


class ExchangeOpenIdTokenView(Endpoint):
    """Spec (Server-Server API, OpenID): no X-Matrix authentication; the token itself is the credential."""
    operation_id = "exchangeOpenIdToken"

    def handle(self, request):
        return handlers.userinfo(request.GET.get("access_token"))
