"""Check the whole ledger against the replay rule (``manage.py verify_ledger``).

For every customer, the stored allocation (the detail rows in force) must be
exactly what :func:`billing.replay.replay` gives for their loans and completed
payments, and every loan's cached ``paid_amount`` and ``outstanding`` must
agree with it. Run it after a restore, or whenever the books are in doubt.
Reads in four set-wide queries, streamed, then replays customer by customer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from billing.money import ZERO
from billing.replay import replay
from loans.models import Loan
from payments import ledger
from payments.models import Payment, PaymentDetail

CHUNK = 5000


@dataclass(frozen=True)
class Mismatch:
    customer_id: int
    what: str


def _by_customer(rows, key) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for row in rows:
        grouped[key(row)].append(row)
    return grouped


def ledger_verify() -> Iterator[Mismatch]:
    """Every place where the stored ledger differs from a fresh replay."""
    loans = _by_customer(
        Loan.objects.order_by("id").iterator(chunk_size=CHUNK), lambda loan: loan.customer_id
    )
    payments = _by_customer(
        Payment.objects.filter(status=Payment.Status.COMPLETED)
        .order_by("id")
        .iterator(chunk_size=CHUNK),
        lambda payment: payment.customer_id,
    )
    stored: dict[int, dict[int, dict[int, object]]] = defaultdict(dict)
    rows = PaymentDetail.current.values_list(
        "payment__customer_id", "payment_id", "loan_id", "amount"
    )
    for customer_id, payment_id, loan_id, amount in rows.iterator(chunk_size=CHUNK):
        stored[customer_id].setdefault(payment_id, {})[loan_id] = amount
    for customer_id in sorted(set(loans) | set(payments) | set(stored)):
        customer_loans = loans.get(customer_id, [])
        result = replay(
            ledger.ledger_loans(customer_loans),
            map(ledger.ledger_payment, payments.get(customer_id, [])),
        )
        if not result.complete:
            yield Mismatch(customer_id, f"payments {[u.key for u in result.unapplied]} do not fit")
        if result.allocations != stored.get(customer_id, {}):
            yield Mismatch(customer_id, "payment details differ from a fresh replay")
        for loan in customer_loans:
            paid = result.paid.get(loan.id, ZERO)
            if loan.paid_amount != paid or (
                loan.status != Loan.Status.REJECTED and loan.outstanding != loan.total_amount - paid
            ):
                yield Mismatch(
                    customer_id,
                    f"loan {loan.external_id} says paid {loan.paid_amount}, the ledger {paid}",
                )
