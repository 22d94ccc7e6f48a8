"""Spreading a payment over a customer's loans, oldest instalment due first."""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from billing.money import ZERO
from billing.schedule import Terms, due_date
from billing.state import cumulative_due, paid_installments


@dataclass(frozen=True)
class Position:
    """One active loan as a payment finds it."""

    key: Hashable
    terms: Terms
    start: date
    taken_at: datetime
    paid: Decimal

    @property
    def owed(self) -> Decimal:
        return self.terms.total_amount - self.paid


class Overpayment(ValueError):
    """The payment is larger than everything the loans still owe."""

    def __init__(self, owed: Decimal) -> None:
        super().__init__(f"The payment exceeds the {owed} still owed.")
        self.owed = owed


def allocate(positions: Sequence[Position], amount: Decimal) -> dict[Hashable, Decimal]:
    """How much of ``amount`` goes to each loan.

    Unpaid instalments are paid in order of due date, oldest first; ties go to
    the loan taken first. Each instalment is paid in full before the next one,
    so only the last instalment touched may be paid in part. Loans that get
    nothing are left out of the result. Raises :class:`Overpayment` when
    ``amount`` exceeds what the loans owe altogether (and for no loans at all).
    """
    owed = sum((p.owed for p in positions), ZERO)
    if amount <= ZERO:
        raise ValueError("amount must be positive")
    if amount > owed:
        raise Overpayment(owed)

    def next_slot(index: int, paid: Decimal) -> tuple[date, datetime, int, int] | None:
        terms = positions[index].terms
        number = paid_installments(terms, paid) + 1
        if number > terms.term_weeks:
            return None
        return (due_date(positions[index].start, number), positions[index].taken_at, index, number)

    heap = [slot for i, p in enumerate(positions) if (slot := next_slot(i, p.paid))]
    heapq.heapify(heap)
    paid_now = [p.paid for p in positions]
    shares: dict[Hashable, Decimal] = {}
    left = amount
    while left > ZERO:
        _, _, index, number = heapq.heappop(heap)
        gap = cumulative_due(positions[index].terms, number) - paid_now[index]
        share = min(gap, left)
        paid_now[index] += share
        left -= share
        key = positions[index].key
        shares[key] = shares.get(key, ZERO) + share
        if (slot := next_slot(index, paid_now[index])) is not None:
            heapq.heappush(heap, slot)
    return shares
