"""Portfolio gauges (delinquent loans and customers, overdue amount), computed at scrape time.

The numbers come from ``loans.selectors.portfolio_delinquency(as_of=...)`` for
today's local date. They describe the whole portfolio, not one process, so
every replica reports the same value: aggregate them with ``max()``, never
``sum()``.

A scrape never fails because of them: if the database is down (or the query is
too slow) the gauges are left out and ``mo_loans_portfolio_scrape_error`` is 1.
Each process keeps the last good answer for ``METRICS_PORTFOLIO_TTL`` seconds
so that frequent scrapes do not each run the query.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from mo_loans.observability.metrics import NAMESPACE

logger = logging.getLogger(__name__)

SELECTOR_MODULE = "loans.selectors"
SELECTOR_NAME = "portfolio_delinquency"


def _selector() -> Callable[..., dict[str, Any]]:
    # Imported lazily: the loans app must not be loaded to define metrics.
    return getattr(importlib.import_module(SELECTOR_MODULE), SELECTOR_NAME)


def _query(as_of: date) -> dict[str, Any]:
    timeout_ms = int(getattr(settings, "METRICS_PORTFOLIO_TIMEOUT_MS", 5000))
    with transaction.atomic():
        if timeout_ms > 0 and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # SET LOCAL ends with this transaction (safe behind PgBouncer too).
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)]
                )
        return _selector()(as_of=as_of)


class PortfolioCollector(Collector):
    """A prometheus_client collector that asks the database when it is collected."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, date, dict[str, Any]] | None = None

    def clear(self) -> None:
        with self._lock:
            self._cached = None

    def _values(self) -> dict[str, Any]:
        ttl = float(getattr(settings, "METRICS_PORTFOLIO_TTL", 30))
        as_of = timezone.localdate()
        with self._lock:
            cached = self._cached
            if cached and cached[1] == as_of and self._clock() - cached[0] < ttl:
                return cached[2]
        values = _query(as_of)
        with self._lock:
            self._cached = (self._clock(), as_of, values)
        return values

    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Names only, so that registering the collector never touches the database.
        return iter(self._families())

    def _families(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_delinquent_loans",
                "Active loans with two or more missed instalments, as of today.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_delinquent_customers",
                "Customers with at least one delinquent loan, as of today.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_overdue_amount",
                "Unpaid part of all missed instalments, as of today, in the lender's currency.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_scrape_error",
                "1 when the portfolio gauges could not be computed on this scrape, else 0.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_scrape_duration_seconds",
                "Time spent computing (or reading the cached) portfolio gauges on this scrape.",
            ),
        ]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        loans, customers, overdue, error, duration = self._families()
        started = time.perf_counter()
        try:
            values = self._values()
            loans.add_metric([], int(values["delinquent_loans"]))
            customers.add_metric([], int(values["delinquent_customers"]))
            # float only inside the Prometheus sample; the selector's value is a Decimal.
            overdue.add_metric([], float(Decimal(values["overdue_amount"])))
        except Exception:  # a broken scrape must never break /metrics
            logger.warning("portfolio metrics unavailable", exc_info=True)
            connection.close_if_unusable_or_obsolete()
            error.add_metric([], 1)
            duration.add_metric([], time.perf_counter() - started)
            yield from (error, duration)
            return
        error.add_metric([], 0)
        duration.add_metric([], time.perf_counter() - started)
        yield from (loans, customers, overdue, error, duration)


portfolio_collector = PortfolioCollector()
