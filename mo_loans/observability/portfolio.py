"""Portfolio gauges, computed at scrape time.

* delinquent loans and customers, overdue amount: from
  ``loans.selectors.portfolio_delinquency(as_of=...)``;
* PAR ratios and the days-past-due buckets (loans, outstanding, outstanding
  principal), the figures of ``GET /api/portfolio``: from
  ``loans.portfolio.portfolio_as_of(as_of=...)``, the same SQL;

both for today's local date. They describe the whole portfolio, not one process, so
every replica reports the same value: aggregate them with ``max()``, never
``sum()``.

A scrape never fails because of them: if the database is down (or the query is
too slow) the gauges are left out and ``mo_loans_portfolio_scrape_error`` is 1.
The risk gauges have their own ``mo_loans_portfolio_risk_scrape_error``. Each
process keeps the last good answer for ``METRICS_PORTFOLIO_TTL`` seconds so that
frequent scrapes do not each run the queries.
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


RISK_MODULE = "loans.portfolio"
RISK_NAME = "portfolio_as_of"


def _selector(module: str = SELECTOR_MODULE, name: str = SELECTOR_NAME) -> Callable[..., Any]:
    # Imported lazily: the loans app must not be loaded to define metrics.
    return getattr(importlib.import_module(module), name)


def _query(as_of: date, selector: Callable[..., Any] | None = None) -> Any:
    timeout_ms = int(getattr(settings, "METRICS_PORTFOLIO_TIMEOUT_MS", 5000))
    with transaction.atomic():
        if timeout_ms > 0 and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # SET LOCAL ends with this transaction (safe behind PgBouncer too).
                cursor.execute(
                    "SELECT set_config('statement_timeout', %s, true)", [str(timeout_ms)]
                )
        return (selector or _selector())(as_of=as_of)


class PortfolioCollector(Collector):
    """A prometheus_client collector that asks the database when it is collected."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[float, date, dict[str, Any]] | None = None

    def clear(self) -> None:
        with self._lock:
            self._cached = None

    def _compute(self, as_of: date) -> Any:
        return _query(as_of)

    def _values(self) -> Any:
        ttl = float(getattr(settings, "METRICS_PORTFOLIO_TTL", 30))
        as_of = timezone.localdate()
        with self._lock:
            cached = self._cached
            if cached and cached[1] == as_of and self._clock() - cached[0] < ttl:
                return cached[2]
        values = self._compute(as_of)
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


class RiskCollector(PortfolioCollector):
    """PAR and the days-past-due buckets, from the SQL behind ``GET /api/portfolio``."""

    def _compute(self, as_of: date) -> Any:
        return _query(as_of, _selector(RISK_MODULE, RISK_NAME))

    def _families(self) -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily(
                f"{NAMESPACE}_par_ratio",
                "Portfolio at risk: outstanding principal of active loans more than `days` "
                "days past due over that of all active loans, as of today (0 to 1).",
                labels=["days"],
            ),
            GaugeMetricFamily(f"{NAMESPACE}_portfolio_active_loans", "Loans active as of today."),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_outstanding_principal",
                "Outstanding principal of the active loans, in the lender's currency.",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_bucket_loans",
                "Active loans in each days-past-due bucket, as of today.",
                labels=["bucket"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_bucket_outstanding",
                "What the active loans of each days-past-due bucket still owe.",
                labels=["bucket"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_bucket_outstanding_principal",
                "Outstanding principal of the active loans of each days-past-due bucket.",
                labels=["bucket"],
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_par30_alert_threshold",
                "PAR30 above this ratio fires the MoLoansPar30High alert "
                "(METRICS_PAR30_ALERT_THRESHOLD).",
            ),
            GaugeMetricFamily(
                f"{NAMESPACE}_portfolio_risk_scrape_error",
                "1 when the PAR and bucket gauges could not be computed on this scrape, else 0.",
            ),
        ]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        par, active, principal, loans, owed, owed_principal, threshold, error = self._families()
        threshold.add_metric([], float(getattr(settings, "METRICS_PAR30_ALERT_THRESHOLD", 0.1)))
        try:
            figures = self._values()
            for days, value in figures.par.items():
                par.add_metric([days], float(Decimal(value)))
            active.add_metric([], int(figures.active_loans))
            principal.add_metric([], float(figures.outstanding_principal))
            for bucket in figures.buckets:
                loans.add_metric([bucket.bucket], int(bucket.loans))
                owed.add_metric([bucket.bucket], float(bucket.outstanding))
                owed_principal.add_metric([bucket.bucket], float(bucket.outstanding_principal))
        except Exception:  # a broken scrape must never break /metrics
            logger.warning("portfolio risk metrics unavailable", exc_info=True)
            connection.close_if_unusable_or_obsolete()
            error.add_metric([], 1)
            yield from (threshold, error)
            return
        error.add_metric([], 0)
        yield from (par, active, principal, loans, owed, owed_principal, threshold, error)


portfolio_collector = PortfolioCollector()
risk_collector = RiskCollector()
