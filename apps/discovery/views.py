"""Discovery endpoints: what the server supports and where it is."""
from __future__ import annotations

from django.conf import settings

from apps.core.http import Endpoint

# Only versions whose required endpoints this server really serves.
SUPPORTED_VERSIONS = ["v1.1", "v1.2", "v1.3", "v1.4", "v1.5", "v1.6", "v1.7", "v1.8", "v1.9", "v1.10", "v1.11"]


class GetVersionsView(Endpoint):
    """GET /_matrix/client/versions"""

    operation_id = "getVersions"

    def handle(self, request, **kwargs):
        return {"versions": SUPPORTED_VERSIONS, "unstable_features": {}}
