"""A loan's arrears history: the periods in which it had missed instalments.

Day *D*'s state is :func:`billing.state.loan_state` as of *D*, counting the
payments whose value date is on or before *D*. A period starts on the first
day with a missed instalment and ends (``to``) on the first day with none
again: the value date of the payment that cured it, or of the one that paid the
loan off. A period still open on ``up_to`` has ``to = None``. So a period
covers the days ``from ≤ D < to``.

The state only changes on *event days*: the day after an instalment's due date
(it may become missed) and the value date of a payment. Between two event days
the number of missed instalments stays the same and days past due grow by one
a day, so each stretch is settled by the state on its first and last day; the
result is the same as stepping through every day (a test checks both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billing.money import ZERO
from billing.schedule import Terms, due_date
from billing.state import DELINQUENT_AFTER_MISSED, LoanState, loan_state

DAY = timedelta(days=1)


@dataclass(frozen=True)
class ArrearsPeriod:
    start: date  # "from" in the API
    end: date | None  # "to": the first day with nothing missed again; None while it lasts
    max_days_past_due: int
    max_missed_installments: int

    @property
    def delinquent(self) -> bool:
        return self.max_missed_installments >= DELINQUENT_AFTER_MISSED


class _Builder:
    """Collects periods from day states given in date order."""

    def __init__(self) -> None:
        self.periods: list[ArrearsPeriod] = []
        self._open: tuple[date, int, int] | None = None  # start, max dpd, max missed

    def see(self, day: date, state: LoanState) -> None:
        if state.missed_installments:
            if self._open is None:
                self._open = (day, state.days_past_due, state.missed_installments)
            else:
                start, dpd, missed = self._open
                self._open = (
                    start,
                    max(dpd, state.days_past_due),
                    max(missed, state.missed_installments),
                )
        elif self._open is not None:
            start, dpd, missed = self._open
            self.periods.append(ArrearsPeriod(start, day, dpd, missed))
            self._open = None

    def finish(self) -> list[ArrearsPeriod]:
        if self._open is not None:
            start, dpd, missed = self._open
            self.periods.append(ArrearsPeriod(start, None, dpd, missed))
            self._open = None
        return self.periods


def _paid_by(payments: Sequence[tuple[date, Decimal]]):
    """A function: what the payments with value date on or before a day add up to.

    Days must be asked for in increasing order.
    """
    index = 0
    total = ZERO

    def paid(day: date) -> Decimal:
        nonlocal index, total
        while index < len(payments) and payments[index][0] <= day:
            total += payments[index][1]
            index += 1
        return total

    return paid


def arrears_periods(
    *,
    terms: Terms,
    start: date | None,
    payments: Sequence[tuple[date, Decimal]],
    up_to: date,
) -> list[ArrearsPeriod]:
    """The arrears periods of a loan that started on ``start`` (None: never activated).

    ``payments`` are ``(value date, amount)`` paid to this loan, in value-date
    order; those after ``up_to`` are ignored. Periods come in date order.
    """
    if start is None or up_to <= start:
        return []
    events = {due_date(start, number) + DAY for number in range(1, terms.term_weeks + 1)}
    events.update(day for day, _ in payments)
    days = sorted(day for day in events if start < day <= up_to)
    paid_by = _paid_by(payments)
    builder = _Builder()
    for index, first in enumerate(days):
        last = days[index + 1] - DAY if index + 1 < len(days) else up_to
        state = loan_state(terms=terms, start=start, paid=paid_by(first), as_of=first)
        builder.see(first, state)
        if last > first and state.missed_installments:
            # Same payments, same missed count; only days past due grew.
            builder.see(last, loan_state(terms=terms, start=start, paid=paid_by(first), as_of=last))
    return builder.finish()
