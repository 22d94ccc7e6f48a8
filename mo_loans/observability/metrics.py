"""Prometheus metrics defined by MO Loans itself (django-prometheus supplies the HTTP and DB ones).

Counters work unchanged under gunicorn: with ``PROMETHEUS_MULTIPROC_DIR`` set
(see ``gunicorn.conf.py``) each worker writes its values to a file there and
``/metrics`` adds them up. The portfolio gauges are not stored at all: they are
computed when ``/metrics`` is scraped (:mod:`mo_loans.observability.portfolio`).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

# No ``<name>_created`` timestamp series next to each counter (gunicorn's
# multiprocess mode never exports them anyway, so the output is the same everywhere).
disable_created_metrics()

NAMESPACE = "mo_loans"

LOANS_CREATED = Counter("loans_created", "Loans created (pending).", namespace=NAMESPACE)
LOANS_ACTIVATED = Counter("loans_activated", "Loans activated.", namespace=NAMESPACE)
LOANS_REJECTED = Counter("loans_rejected", "Pending loans rejected.", namespace=NAMESPACE)
LOANS_CREATED_AMOUNT = Counter(
    "loans_created_amount",
    "Principal of the loans created, in the lender's currency.",
    namespace=NAMESPACE,
)
LOANS_ACTIVATED_AMOUNT = Counter(
    "loans_activated_amount",
    "Total amount (principal plus interest) of the loans activated.",
    namespace=NAMESPACE,
)
PAYMENTS = Counter("payments", "Payments recorded, by status.", ["status"], namespace=NAMESPACE)
PAYMENTS_AMOUNT = Counter(
    "payments_amount",
    "Sum of the payments recorded, by status, in the lender's currency.",
    ["status"],
    namespace=NAMESPACE,
)

PAYMENT_STATUSES = ("completed", "rejected")

# Start every labelled series at 0 so that rate() and the dashboard see them
# before the first payment of each kind.
for _status in PAYMENT_STATUSES:
    PAYMENTS.labels(status=_status)
    PAYMENTS_AMOUNT.labels(status=_status)

# Latency by route *and* status (django-prometheus's own histogram has no status label).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
PAYMENTS_REVERSED = Counter(
    "payments_reversed", "Completed payments reversed.", namespace=NAMESPACE
)
LEDGER_REPLAYS = Counter(
    "ledger_replays",
    "Customer ledgers replayed, by what changed the past.",
    ["cause"],
    namespace=NAMESPACE,
)
LEDGER_ROWS_SUPERSEDED = Counter(
    "ledger_rows_superseded",
    "Allocation rows a replay marked superseded (and wrote anew).",
    namespace=NAMESPACE,
)
REPLAY_CAUSES = ("backdated_payment", "reversal", "backdated_activation")
for _cause in REPLAY_CAUSES:
    LEDGER_REPLAYS.labels(cause=_cause)

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to answer a request, by view name, method and status.",
    ["view", "method", "status"],
    namespace=NAMESPACE,
    buckets=LATENCY_BUCKETS,
)
