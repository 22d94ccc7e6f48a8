"""Weekly schedules for flat-interest loans (docs/billing.md).

``total = amount × (1 + rate)`` rounded half-up to the cent; ``term_weeks``
instalments of ``total / term_weeks`` rounded down to the cent, the last one
taking the remainder so that the instalments add up to ``total`` exactly.
Instalment *k* is due ``7·k`` days after the loan's start date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from billing.money import ZERO, round_down, round_half_up

WEEK = timedelta(days=7)
MIN_TERM_WEEKS = 1
MAX_TERM_WEEKS = 520


class ScheduleError(ValueError):
    """The terms cannot make a schedule (for example an instalment of 0.00)."""


@dataclass(frozen=True)
class Terms:
    """What a schedule is built from, and the two amounts every instalment derives from."""

    amount: Decimal
    interest_rate: Decimal
    term_weeks: int
    total_amount: Decimal
    installment_amount: Decimal

    @property
    def last_installment_amount(self) -> Decimal:
        return self.total_amount - self.installment_amount * (self.term_weeks - 1)

    def installment_amounts(self) -> list[Decimal]:
        """Every instalment in order: ``term_weeks - 1`` equal ones and the remainder."""
        return [self.installment_amount] * (self.term_weeks - 1) + [self.last_installment_amount]


def make_terms(*, amount: Decimal, interest_rate: Decimal, term_weeks: int) -> Terms:
    if amount <= ZERO:
        raise ScheduleError("The amount must be greater than zero.")
    if not Decimal(0) <= interest_rate <= Decimal(1):
        raise ScheduleError("The interest rate must be between 0 and 1.")
    if not MIN_TERM_WEEKS <= term_weeks <= MAX_TERM_WEEKS:
        raise ScheduleError(f"The term must be {MIN_TERM_WEEKS} to {MAX_TERM_WEEKS} weeks.")
    total = round_half_up(amount * (1 + interest_rate))
    installment = round_down(total / term_weeks)
    if installment <= ZERO:
        raise ScheduleError("The instalment would round to 0.00; lend more or for fewer weeks.")
    return Terms(amount, interest_rate, term_weeks, total, installment)


def due_date(start: date, number: int) -> date:
    """The due date of instalment ``number`` (from 1) of a loan that starts on ``start``."""
    return start + WEEK * number


def maximum_payment_date(start: date, term_weeks: int) -> date:
    return due_date(start, term_weeks)


def start_date(maximum_payment: date, term_weeks: int) -> date:
    """Inverse of :func:`maximum_payment_date`."""
    return maximum_payment - WEEK * term_weeks
