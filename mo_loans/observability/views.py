"""``GET /metrics``: Prometheus text format, for the cluster's Prometheus only.

No API key: keep the path off public ingresses (see docs/operations.md) or turn
it off with ``METRICS_ENABLED=False``. Under gunicorn (``PROMETHEUS_MULTIPROC_DIR``
set) the answer adds up every worker's counters and histograms, so whichever
worker serves the scrape reports the whole pod.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

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


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE)
