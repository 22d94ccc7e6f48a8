"""Arrears periods: property tests and a day-by-day cross-check."""

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.arrears import ArrearsPeriod, arrears_periods
from billing.money import ZERO
from billing.schedule import due_date, make_terms
from billing.state import loan_state

START = date(2026, 1, 5)
DAY = timedelta(days=1)


def daily(*, terms, start, payments, up_to):
    """Brute force: the state of every day from the start, a period per run of missed days."""
    periods, current = [], None
    day = start
    while day <= up_to:
        paid = sum((amount for when, amount in payments if when <= day), ZERO)
        state = loan_state(terms=terms, start=start, paid=paid, as_of=day)
        if state.missed_installments:
            if current is None:
                current = [day, None, 0, 0]
            current[2] = max(current[2], state.days_past_due)
            current[3] = max(current[3], state.missed_installments)
        elif current is not None:
            current[1] = day
            periods.append(ArrearsPeriod(*current))
            current = None
        day += DAY
    if current is not None:
        periods.append(ArrearsPeriod(*current))
    return periods


@st.composite
def loans(draw):
    terms = make_terms(
        amount=Decimal(draw(st.integers(100, 100_000))) / 100,
        interest_rate=draw(st.sampled_from([Decimal(0), Decimal("0.1"), Decimal("0.33")])),
        term_weeks=draw(st.integers(1, 12)),
    )
    horizon = terms.term_weeks * 7 + 60
    raw = draw(
        st.lists(st.tuples(st.integers(0, horizon), st.integers(1, 100)), max_size=8).map(sorted)
    )
    payments, paid = [], ZERO
    for offset, percent in raw:
        amount = min(
            terms.total_amount - paid,
            (terms.total_amount * percent / 100).quantize(Decimal("0.01")),
        )
        if amount > ZERO:
            payments.append((START + timedelta(days=offset), amount))
            paid += amount
    up_to = START + timedelta(days=draw(st.integers(0, horizon + 30)))
    return terms, payments, up_to


@settings(max_examples=300, deadline=None)
@given(loans())
def test_event_days_give_the_same_periods_as_every_day(loan):
    terms, payments, up_to = loan
    got = arrears_periods(terms=terms, start=START, payments=payments, up_to=up_to)
    assert got == daily(terms=terms, start=START, payments=payments, up_to=up_to)


@settings(max_examples=200, deadline=None)
@given(loans())
def test_periods_never_overlap_and_only_the_last_is_open(loan):
    terms, payments, up_to = loan
    periods = arrears_periods(terms=terms, start=START, payments=payments, up_to=up_to)
    for earlier, later in pairwise(periods):
        assert earlier.end is not None
        assert earlier.start < earlier.end < later.start  # a cured day lies between
    for period in periods:
        assert period.start <= up_to
        assert period.max_missed_installments >= 1
        assert period.max_days_past_due >= 1
        assert period.delinquent == (period.max_missed_installments >= 2)
        if period.end is not None:
            assert period.end <= up_to
            # It ends on a payment's value date: nothing else cures.
            assert period.end in {when for when, _ in payments}


@settings(max_examples=200, deadline=None)
@given(loans())
def test_a_loan_paid_on_every_due_date_has_no_arrears(loan):
    terms, _, up_to = loan
    payments = [
        (due_date(START, number), amount)
        for number, amount in enumerate(terms.installment_amounts(), start=1)
    ]
    assert arrears_periods(terms=terms, start=START, payments=payments, up_to=up_to) == []


def test_curing_closes_the_period_on_the_payments_value_date():
    terms = make_terms(amount=Decimal("1000"), interest_rate=Decimal("0"), term_weeks=10)
    # Due 01-12, 01-19, 01-26…; nothing paid until 01-28 pays three instalments.
    payments = [(date(2026, 1, 28), Decimal("300.00"))]
    (period,) = arrears_periods(terms=terms, start=START, payments=payments, up_to=date(2026, 2, 2))
    assert period == ArrearsPeriod(date(2026, 1, 13), date(2026, 1, 28), 15, 3)
    assert period.delinquent


def test_a_period_still_open_has_no_end_and_counts_up_to_the_date():
    terms = make_terms(amount=Decimal("1000"), interest_rate=Decimal("0"), term_weeks=10)
    # Pays the first instalment only; the second (due 01-19) is missed from 01-20.
    payments = [(date(2026, 1, 12), Decimal("100.00"))]
    (period,) = arrears_periods(
        terms=terms, start=START, payments=payments, up_to=date(2026, 1, 22)
    )
    assert period == ArrearsPeriod(date(2026, 1, 20), None, 3, 1)
    assert not period.delinquent


def test_a_partial_payment_does_not_cure():
    terms = make_terms(amount=Decimal("1000"), interest_rate=Decimal("0"), term_weeks=10)
    payments = [(date(2026, 1, 14), Decimal("99.99"))]
    (period,) = arrears_periods(
        terms=terms, start=START, payments=payments, up_to=date(2026, 1, 16)
    )
    assert period == ArrearsPeriod(date(2026, 1, 13), None, 4, 1)


def test_a_loan_never_activated_or_not_yet_started_has_no_arrears():
    terms = make_terms(amount=Decimal("1000"), interest_rate=Decimal("0"), term_weeks=10)
    assert arrears_periods(terms=terms, start=None, payments=[], up_to=date(2027, 1, 1)) == []
    assert arrears_periods(terms=terms, start=START, payments=[], up_to=START) == []
