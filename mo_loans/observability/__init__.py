"""Business events: metrics and one structured log line per money-moving service call.

The loan and payment services call these functions right after their
transaction commits (never inside it: a rolled-back change must not be
counted). Each one increments Prometheus counters and writes one log line on
the ``mo_loans.events`` logger, with ids and amounts (as exact strings) and the
request id; never API keys or other secrets.

Amounts are ``Decimal``; they become ``float`` only inside a Prometheus sample.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from mo_loans.observability import metrics

__all__ = [
    "ledger_replayed",
    "loan_activated",
    "loan_created",
    "loan_rejected",
    "payment_recorded",
    "payment_reversed",
]

event_logger = logging.getLogger("mo_loans.events")


def _money(value: Decimal) -> str:
    return str(value)


def _log(event: str, message: str, **fields: object) -> None:
    event_logger.info(message, extra={"event": event, **fields})


def loan_created(
    *, external_id: str, customer_external_id: str, amount: Decimal, total_amount: Decimal
) -> None:
    metrics.LOANS_CREATED.inc()
    metrics.LOANS_CREATED_AMOUNT.inc(float(amount))
    _log(
        "loan_created",
        f"loan {external_id} created",
        loan_external_id=external_id,
        customer_external_id=customer_external_id,
        amount=_money(amount),
        total_amount=_money(total_amount),
    )


def loan_activated(*, external_id: str, customer_external_id: str, total_amount: Decimal) -> None:
    metrics.LOANS_ACTIVATED.inc()
    metrics.LOANS_ACTIVATED_AMOUNT.inc(float(total_amount))
    _log(
        "loan_activated",
        f"loan {external_id} activated",
        loan_external_id=external_id,
        customer_external_id=customer_external_id,
        total_amount=_money(total_amount),
    )


def loan_rejected(*, external_id: str, customer_external_id: str) -> None:
    metrics.LOANS_REJECTED.inc()
    _log(
        "loan_rejected",
        f"loan {external_id} rejected",
        loan_external_id=external_id,
        customer_external_id=customer_external_id,
    )


def payment_recorded(
    *,
    external_id: str,
    customer_external_id: str,
    status: str,
    amount: Decimal,
    details: list[tuple[str, Decimal]],
    rejection_reason: str = "",
) -> None:
    """A payment was stored; ``status`` is ``completed`` or ``rejected``.

    Called after the commit, so it never raises: an unknown status is logged
    as an error and left out of the metrics (it would be a new label value).
    """
    if status in metrics.PAYMENT_STATUSES:
        metrics.PAYMENTS.labels(status=status).inc()
        metrics.PAYMENTS_AMOUNT.labels(status=status).inc(float(amount))
    else:
        event_logger.error("payment %s has unknown status %r; not counted", external_id, status)
    fields: dict[str, object] = {
        "payment_external_id": external_id,
        "customer_external_id": customer_external_id,
        "status": status,
        "amount": _money(amount),
        "details": [{"loan_external_id": loan, "amount": _money(paid)} for loan, paid in details],
    }
    if rejection_reason:
        fields["rejection_reason"] = rejection_reason
    _log("payment_recorded", f"payment {external_id} {status}", **fields)


def payment_reversed(
    *, external_id: str, customer_external_id: str, amount: Decimal, reason: str
) -> None:
    metrics.PAYMENTS_REVERSED.inc()
    _log(
        "payment_reversed",
        f"payment {external_id} reversed",
        payment_external_id=external_id,
        customer_external_id=customer_external_id,
        amount=_money(amount),
        reversal_reason=reason,
    )


def ledger_replayed(
    *, customer_external_id: str, cause: str, payments_changed: int, rows_superseded: int
) -> None:
    """A customer's payments were re-applied because a write changed their past."""
    if cause in metrics.REPLAY_CAUSES:
        metrics.LEDGER_REPLAYS.labels(cause=cause).inc()
    metrics.LEDGER_ROWS_SUPERSEDED.inc(rows_superseded)
    _log(
        "ledger_replayed",
        f"ledger of customer {customer_external_id} replayed ({cause})",
        customer_external_id=customer_external_id,
        cause=cause,
        payments_changed=payments_changed,
        rows_superseded=rows_superseded,
    )
