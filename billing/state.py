"""A loan's billing state as of a date, from its terms and what was paid to it.

Payments fill a loan's instalments oldest first, each in full before the next,
so the cumulative amount paid to a loan tells exactly which instalments are
paid: the first ``k`` in full and the next one in part. Everything here derives
from that one number, which makes the same arithmetic easy to express in SQL
for portfolio-wide questions (see ``loans/selectors.py``); a test checks the
two agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.money import ZERO
from billing.schedule import Terms, due_date

DELINQUENT_AFTER_MISSED = 2


@dataclass(frozen=True)
class InstallmentState:
    number: int
    due_date: date
    amount: Decimal
    paid_amount: Decimal
    status: str  # "paid", "missed", "partial" or "due"


@dataclass(frozen=True)
class LoanState:
    as_of: date
    outstanding: Decimal
    paid_amount: Decimal
    overdue_amount: Decimal
    missed_installments: int
    days_past_due: int
    is_delinquent: bool


def paid_installments(terms: Terms, paid: Decimal) -> int:
    """How many instalments ``paid`` covers in full."""
    if paid >= terms.total_amount:
        return terms.term_weeks
    return min(terms.term_weeks - 1, int(paid // terms.installment_amount))


def due_before(start: date, term_weeks: int, as_of: date) -> int:
    """How many instalments fall due strictly before ``as_of`` (one due on it is not)."""
    days = (as_of - start).days
    if days <= 0:
        return 0
    return min(term_weeks, (days - 1) // 7)


def cumulative_due(terms: Terms, count: int) -> Decimal:
    """What the first ``count`` instalments add up to."""
    if count >= terms.term_weeks:
        return terms.total_amount
    return terms.installment_amount * count


def loan_state(*, terms: Terms, start: date | None, paid: Decimal, as_of: date) -> LoanState:
    """The state as of ``as_of`` of a loan that started on ``start`` (None: not active).

    ``paid`` is everything paid to the loan on or before ``as_of``.
    """
    paid = min(max(paid, ZERO), terms.total_amount)
    outstanding = terms.total_amount - paid
    if start is None:
        return LoanState(as_of, outstanding, paid, ZERO, 0, 0, False)
    fully_paid = paid_installments(terms, paid)
    falling_due = due_before(start, terms.term_weeks, as_of)
    missed = max(0, falling_due - fully_paid)
    overdue = max(ZERO, cumulative_due(terms, falling_due) - paid)
    days_past_due = (as_of - due_date(start, fully_paid + 1)).days if missed else 0
    return LoanState(
        as_of=as_of,
        outstanding=outstanding,
        paid_amount=paid,
        overdue_amount=overdue,
        missed_installments=missed,
        days_past_due=days_past_due,
        is_delinquent=missed >= DELINQUENT_AFTER_MISSED,
    )


def installment_states(
    *, installments: Sequence[tuple[int, date, Decimal]], paid: Decimal, as_of: date
) -> list[InstallmentState]:
    """Each ``(number, due_date, amount)`` with what was paid to it and its status.

    ``paid`` is everything paid to the loan on or before ``as_of``; it fills the
    instalments in order, each in full before the next.
    """
    rows = []
    left = max(paid, ZERO)
    for number, due, amount in installments:
        share = min(left, amount)
        left -= share
        if share == amount:
            status = "paid"
        elif due < as_of:
            status = "missed"
        elif share > ZERO:
            status = "partial"
        else:
            status = "due"
        rows.append(InstallmentState(number, due, amount, share, status))
    return rows
