"""GET /_synapse/metrics: Prometheus exposition of this process's registry (see `listeners` for where
it is served and `collectors` for what it holds)."""
from __future__ import annotations

from django.http import HttpResponse
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from apps.core.errors import unrecognized
from apps.core.http import Endpoint

from .listeners import serves_metrics


class MetricsView(Endpoint):
    """GET /_synapse/metrics (Synapse's path): text format, or OpenMetrics when the scraper asks for it.
    404 M_UNRECOGNIZED unless `enable_metrics` is on and the request came in on a `metrics` listener."""

    operation_id = "synapse_metrics"

    def handle(self, request, **kwargs):
        if not serves_metrics(request):
            raise unrecognized(request.method or "GET", request.path)
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        return HttpResponse(encoder(REGISTRY), content_type=content_type)
