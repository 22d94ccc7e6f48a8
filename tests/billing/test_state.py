from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.money import ZERO
from billing.schedule import ScheduleError, Terms, due_date, make_terms
from billing.state import installment_states, loan_state

CLASSIC = make_terms(amount=Decimal("5000000"), interest_rate=Decimal("0.10"), term_weeks=50)
START = date(2026, 1, 1)


def schedule(terms: Terms, start: date):
    return [
        (n, due_date(start, n), amount)
        for n, amount in enumerate(terms.installment_amounts(), start=1)
    ]


@st.composite
def loans(draw):
    while True:
        amount = draw(st.decimals(min_value=Decimal("1"), max_value=Decimal("10000000"), places=2))
        rate = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("1"), places=2))
        weeks = draw(st.integers(min_value=1, max_value=120))
        try:
            terms = make_terms(amount=amount, interest_rate=rate, term_weeks=weeks)
        except ScheduleError:
            continue
        paid = draw(st.decimals(min_value=ZERO, max_value=terms.total_amount, places=2))
        as_of = START + timedelta(days=draw(st.integers(min_value=-30, max_value=7 * 130)))
        return terms, paid, as_of


def test_nothing_is_missed_on_the_due_date_itself():
    on_due = loan_state(terms=CLASSIC, start=START, paid=ZERO, as_of=due_date(START, 1))
    assert on_due.missed_installments == 0
    day_after = loan_state(
        terms=CLASSIC, start=START, paid=ZERO, as_of=due_date(START, 1) + timedelta(days=1)
    )
    assert day_after.missed_installments == 1
    assert day_after.days_past_due == 1
    assert not day_after.is_delinquent


def test_two_missed_instalments_make_a_loan_delinquent():
    as_of = due_date(START, 2) + timedelta(days=1)
    state = loan_state(terms=CLASSIC, start=START, paid=ZERO, as_of=as_of)
    assert state.missed_installments == 2
    assert state.is_delinquent
    assert state.days_past_due == 8
    assert state.overdue_amount == Decimal("220000.00")
    cured = loan_state(terms=CLASSIC, start=START, paid=Decimal("220000.00"), as_of=as_of)
    assert not cured.is_delinquent
    assert cured.overdue_amount == ZERO


def test_a_pending_loan_owes_its_total_and_misses_nothing():
    state = loan_state(terms=CLASSIC, start=None, paid=ZERO, as_of=START + timedelta(days=400))
    assert state.outstanding == Decimal("5500000.00")
    assert (state.missed_installments, state.is_delinquent) == (0, False)


@given(loans())
def test_state_agrees_with_the_instalment_by_instalment_view(case):
    terms, paid, as_of = case
    state = loan_state(terms=terms, start=START, paid=paid, as_of=as_of)
    rows = installment_states(installments=schedule(terms, START), paid=paid, as_of=as_of)
    missed = [row for row in rows if row.status == "missed"]
    assert state.outstanding == terms.total_amount - paid >= ZERO
    assert state.missed_installments == len(missed)
    # Missed instalments are consecutive: a run of numbers with no gap.
    numbers = [row.number for row in missed]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True
    assert state.overdue_amount == sum((r.amount - r.paid_amount for r in missed), ZERO)
    assert sum((r.paid_amount for r in rows), ZERO) == paid
    assert state.is_delinquent == (len(missed) >= 2)
    if missed:
        assert state.days_past_due == (as_of - missed[0].due_date).days > 0
    else:
        assert state.days_past_due == 0
    # At most one instalment is partly paid, and only after every earlier one is paid.
    statuses = [r.status for r in rows]
    first_unpaid = next((i for i, s in enumerate(statuses) if s != "paid"), len(statuses))
    assert all(s == "paid" for s in statuses[:first_unpaid])
    assert all(r.paid_amount == ZERO for r in rows[first_unpaid + 1 :])


@given(loans())
def test_outstanding_never_goes_below_zero_even_when_overpaid(case):
    terms, paid, as_of = case
    state = loan_state(terms=terms, start=START, paid=paid + terms.total_amount, as_of=as_of)
    assert state.outstanding == ZERO
    assert state.missed_installments == 0
