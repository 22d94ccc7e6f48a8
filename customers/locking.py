"""The customer lock: the first lock every money-moving write takes.

Loans, payments, reversals and activations of one customer change the same
ledger, so each takes the customer's row lock first (then its loans, in id
order). Writes for one customer queue; writes for different customers never
wait on each other, and no two writes take locks in opposite orders.
"""

from __future__ import annotations

from customers.models import Customer


def customer_lock(*, external_id: str | None = None, pk: int | None = None) -> Customer | None:
    """Lock and return the customer named by ``external_id`` or ``pk`` (None: no such customer).

    Call inside the write's transaction.
    """
    rows = Customer.objects.select_for_update()
    rows = rows.filter(external_id=external_id) if pk is None else rows.filter(pk=pk)
    return rows.first()
