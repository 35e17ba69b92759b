"""Federation endpoints of end-to-end encryption (spec: server-server API, "Device Management" and
"End-to-End Encryption"): other servers asking about this server's users' devices and keys. Signed
(X-Matrix) requests; one class per spec operationId, the rules in `handlers`."""
from __future__ import annotations

from apps.federation.transport_auth import FederationEndpoint

from . import handlers
from .views import _body, _clean


class GetUserDevicesView(FederationEndpoint):
    """GET /_matrix/federation/v1/user/devices/{userId}"""

    operation_id = "getUserDevices"

    def handle_federation(self, request, origin, user_id, **kwargs):
        _clean(user_id)
        return handlers.user_devices(user_id)


class QueryUserEncryptionKeysView(FederationEndpoint):
    """POST /_matrix/federation/v1/user/keys/query"""

    operation_id = "queryUserEncryptionKeys"

    def handle_federation(self, request, origin, **kwargs):
        return handlers.federation_query_keys(_body(request))


class ClaimUserEncryptionKeysView(FederationEndpoint):
    """POST /_matrix/federation/v1/user/keys/claim"""

    operation_id = "claimUserEncryptionKeys"

    def handle_federation(self, request, origin, **kwargs):
        return handlers.federation_claim_keys(_body(request))
