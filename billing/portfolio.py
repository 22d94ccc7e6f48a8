"""Portfolio risk figures from plain per-loan values (docs/billing.md, "Portfolio risk").

This is the definition of every figure ``GET /api/portfolio`` answers, in
plain Python: the SQL in ``loans/portfolio.py`` computes the same figures over
the whole book at once, and the tests hold the two to the same answers.

* A loan is **active as of D** when it had been activated by the end of *D*
  (its start date, the local date of ``taken_at``, is on or before *D*) and
  what it had been paid by then is less than its total.
* **Outstanding principal** of a flat loan: ``outstanding × amount /
  total_amount``, half-up to the cent, per loan; the portfolio's is the sum.
* **PAR X**: outstanding principal of the active loans more than *X* days past
  due over the outstanding principal of all active loans.
* **On-time collection** for ``from``..``to``: of the instalments falling due in
  the period, the part paid by the end of each one's own due date (by value
  date), over the amount falling due.

Ratios are computed from the exact sums and rounded once, half-up, to 4
decimals, and rendered as strings (``"0.1234"``); ``"0.0000"`` when the
denominator is zero.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from billing.buckets import DEFAULT, Bucket, bucket_for, bucket_names
from billing.money import CENT, ZERO, round_half_up
from billing.schedule import Terms, due_date
from billing.state import DELINQUENT_AFTER_MISSED, cumulative_due, loan_state

PAR_DAYS = (1, 7, 30, 90)
RATIO_PLACES = 4
_RATIO_SCALE = 10**RATIO_PLACES


def outstanding_principal(
    *, outstanding: Decimal, amount: Decimal, total_amount: Decimal
) -> Decimal:
    """The principal part of what a flat loan still owes: interest and principal are
    repaid in the same proportion, so it is ``outstanding × amount / total_amount``."""
    return round_half_up(outstanding * amount / total_amount)


def ratio(numerator: Decimal, denominator: Decimal) -> str:
    """``numerator / denominator`` half-up to 4 decimals, exactly; ``"0.0000"`` over zero.

    Both are sums of cents, so the division is done on whole numbers and no
    intermediate rounding can move a result across a half.
    """
    if denominator == ZERO:
        return f"{0:.{RATIO_PLACES}f}"
    cents_num = int(numerator / CENT)
    cents_den = int(denominator / CENT)
    scaled = (2 * cents_num * _RATIO_SCALE + cents_den) // (2 * cents_den)
    whole, fraction = divmod(scaled, _RATIO_SCALE)
    return f"{whole}.{fraction:0{RATIO_PLACES}d}"


@dataclass(frozen=True)
class PortfolioLoan:
    """One loan as of a date: its terms, start (None: never activated) and what it had
    been paid by the end of that date."""

    customer: Hashable
    terms: Terms
    start: date | None
    paid: Decimal


@dataclass(frozen=True)
class BucketFigures:
    bucket: str
    loans: int
    outstanding: Decimal
    outstanding_principal: Decimal


@dataclass(frozen=True)
class PortfolioFigures:
    as_of: date
    active_loans: int
    gross_outstanding: Decimal
    outstanding_principal: Decimal
    par: dict[str, str]
    buckets: list[BucketFigures]
    delinquent_loans: int
    delinquent_customers: int | None  # None: not counted (the admin trend's weeks)


def is_active(loan: PortfolioLoan, as_of: date) -> bool:
    return loan.start is not None and loan.start <= as_of and loan.paid < loan.terms.total_amount


def portfolio_figures(
    *, loans: Sequence[PortfolioLoan], as_of: date, buckets: Sequence[Bucket] = DEFAULT
) -> PortfolioFigures:
    """Every as-of figure of ``GET /api/portfolio``, loan by loan."""
    names = bucket_names(buckets)
    count = dict.fromkeys(names, 0)
    owed = dict.fromkeys(names, ZERO)
    principal = dict.fromkeys(names, ZERO)
    at_risk = dict.fromkeys(PAR_DAYS, ZERO)
    delinquent: list[Hashable] = []
    for loan in loans:
        if not is_active(loan, as_of):
            continue
        state = loan_state(terms=loan.terms, start=loan.start, paid=loan.paid, as_of=as_of)
        share = outstanding_principal(
            outstanding=state.outstanding,
            amount=loan.terms.amount,
            total_amount=loan.terms.total_amount,
        )
        name = bucket_for(state.days_past_due, buckets)
        count[name] += 1
        owed[name] += state.outstanding
        principal[name] += share
        for days in PAR_DAYS:
            if state.days_past_due > days:
                at_risk[days] += share
        if state.missed_installments >= DELINQUENT_AFTER_MISSED:
            delinquent.append(loan.customer)
    total_principal = sum(principal.values(), ZERO)
    return PortfolioFigures(
        as_of=as_of,
        active_loans=sum(count.values()),
        gross_outstanding=sum(owed.values(), ZERO),
        outstanding_principal=total_principal,
        par={str(days): ratio(at_risk[days], total_principal) for days in PAR_DAYS},
        buckets=[BucketFigures(n, count[n], owed[n], principal[n]) for n in names],
        delinquent_loans=len(delinquent),
        delinquent_customers=len(set(delinquent)),
    )


@dataclass(frozen=True)
class ScheduledLoan:
    """An activated loan with its payments as ``(value date, amount)``."""

    terms: Terms
    start: date
    payments: Sequence[tuple[date, Decimal]]


@dataclass(frozen=True)
class CollectionFigures:
    due_amount: Decimal
    collected_on_time: Decimal
    collected_in_period: Decimal
    on_time_rate: str


def collection_figures(
    *, loans: Sequence[ScheduledLoan], period_from: date, period_to: date
) -> CollectionFigures:
    """On-time collection over ``period_from``..``period_to`` (both inclusive).

    Payments fill a loan's instalments oldest first, so the part of instalment
    *k* paid by the end of its due date is what the loan had been paid by then,
    less what the instalments before it take, between 0 and its amount.
    """
    due = on_time = collected = ZERO
    for loan in loans:
        amounts = loan.terms.installment_amounts()
        for number, amount in enumerate(amounts, start=1):
            when = due_date(loan.start, number)
            if not period_from <= when <= period_to:
                continue
            paid = sum((a for day, a in loan.payments if day <= when), ZERO)
            before = cumulative_due(loan.terms, number - 1)
            due += amount
            on_time += min(amount, max(ZERO, paid - before))
        collected += sum((a for day, a in loan.payments if period_from <= day <= period_to), ZERO)
    return CollectionFigures(due, on_time, collected, ratio(on_time, due))
