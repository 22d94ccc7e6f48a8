from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.schedule import ScheduleError, due_date, make_terms, maximum_payment_date, start_date

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=4)
terms_weeks = st.integers(min_value=1, max_value=520)


def test_the_classic_loan_is_fifty_instalments_of_110000():
    terms = make_terms(amount=Decimal("5000000"), interest_rate=Decimal("0.10"), term_weeks=50)
    assert terms.total_amount == Decimal("5500000.00")
    assert terms.installment_amounts() == [Decimal("110000.00")] * 50


def test_the_last_instalment_takes_the_remainder():
    terms = make_terms(amount=Decimal("1000000"), interest_rate=Decimal("0.10"), term_weeks=3)
    assert terms.installment_amounts() == [
        Decimal("366666.66"),
        Decimal("366666.66"),
        Decimal("366666.68"),
    ]


def test_total_is_rounded_half_up():
    terms = make_terms(amount=Decimal("0.05"), interest_rate=Decimal("0.1"), term_weeks=1)
    assert terms.total_amount == Decimal("0.06")  # 0.055 -> 0.06


def test_an_instalment_that_rounds_to_zero_is_refused():
    with pytest.raises(ScheduleError):
        make_terms(amount=Decimal("0.10"), interest_rate=Decimal("0"), term_weeks=11)


@pytest.mark.parametrize(
    ("amount", "rate", "weeks"),
    [
        ("0", "0.1", 1),
        ("-1", "0.1", 1),
        ("1", "-0.1", 1),
        ("1", "1.01", 1),
        ("1", "0", 0),
        ("1", "0", 521),
    ],
)
def test_bad_terms_are_refused(amount, rate, weeks):
    with pytest.raises(ScheduleError):
        make_terms(amount=Decimal(amount), interest_rate=Decimal(rate), term_weeks=weeks)


@given(amount=amounts, rate=rates, weeks=terms_weeks)
def test_instalments_add_up_to_the_total_exactly(amount, rate, weeks):
    try:
        terms = make_terms(amount=amount, interest_rate=rate, term_weeks=weeks)
    except ScheduleError:
        assert (amount * (1 + rate)).quantize(Decimal("0.01")) / weeks < Decimal("0.01")
        return
    installments = terms.installment_amounts()
    assert len(installments) == weeks
    assert sum(installments) == terms.total_amount
    assert all(i > 0 for i in installments)
    assert all(i.as_tuple().exponent >= -2 for i in installments)
    # All but the last are equal; the last is bigger by less than term_weeks cents.
    assert set(installments[:-1]) <= {terms.installment_amount}
    assert 0 <= installments[-1] - terms.installment_amount < Decimal("0.01") * weeks


@given(start=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), weeks=terms_weeks)
def test_due_dates_are_weekly_from_the_start(start, weeks):
    end = maximum_payment_date(start, weeks)
    assert end == due_date(start, weeks)
    assert (due_date(start, 1) - start).days == 7
    assert start_date(end, weeks) == start
