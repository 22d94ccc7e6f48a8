"""``GET /metrics``: Prometheus text format, for the cluster's Prometheus only.

The figures are the lender's business, so who may read them is explicit
(docs/operations.md, "Metrics"):

* on the metrics port (``METRICS_PORT``, a second gunicorn listener bound to
  ``METRICS_BIND``), which serves nothing else;
* on the API port only when ``METRICS_TOKEN`` is set, and only to
  ``Authorization: Bearer <token>``; without a token it is a 404 there.

With ``METRICS_TOKEN`` set the metrics port asks for it too.
``METRICS_ENABLED=False`` removes the route altogether. Under gunicorn
(``PROMETHEUS_MULTIPROC_DIR`` set) the answer adds up every worker's counters
and histograms, so whichever worker serves the scrape reports the whole pod.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from mo_loans.api.exception_handlers import error_body
from mo_loans.observability.portfolio import portfolio_collector, risk_collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _Chain(Collector):
    """Collect from several sources as one, so that one registry serves them all."""

    def __init__(self, sources: Iterable[Collector | CollectorRegistry]) -> None:
        self._sources = list(sources)

    def collect(self):
        for source in self._sources:
            yield from source.collect()


def scrape_registry() -> CollectorRegistry:
    """What one scrape reports: every process's metrics, then the portfolio gauges."""
    registry = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        MultiProcessCollector(registry, path=path)
        registry.register(_Chain([portfolio_collector, risk_collector]))
    else:
        registry.register(_Chain([REGISTRY, portfolio_collector, risk_collector]))
    return registry


def on_metrics_port(request: HttpRequest) -> bool:
    """The request came in on the ``METRICS_PORT`` listener.

    gunicorn sets ``SERVER_PORT`` from the listening socket, not from the Host header.
    """
    port = settings.METRICS_PORT
    return bool(port) and request.META.get("SERVER_PORT") == str(port)


def _bearer_token_ok(request: HttpRequest, token: str) -> bool:
    scheme, _, sent = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token and not on_metrics_port(request):
        return JsonResponse(error_body("not_found", "No such page."), status=404)
    if token and not _bearer_token_ok(request, token):
        return JsonResponse(
            error_body("not_authenticated", "Metrics need Authorization: Bearer <token>."),
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE)


class MetricsPortMiddleware:
    """The metrics port serves ``/metrics`` and nothing else: never the API or the admin."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if on_metrics_port(request) and request.path_info.rstrip("/") != "/metrics":
            body = error_body("not_found", "Only /metrics is served here.")
            return JsonResponse(body, status=404)
        return self.get_response(request)
