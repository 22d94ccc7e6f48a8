from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing.allocation import Overpayment, Position, allocate
from billing.money import ZERO
from billing.schedule import due_date, make_terms
from billing.state import installment_states

START = date(2026, 1, 1)


def position(key, amount="1000", weeks=10, start=START, paid="0", taken_hour=0):
    terms = make_terms(amount=Decimal(amount), interest_rate=Decimal("0"), term_weeks=weeks)
    return Position(
        key=key,
        terms=terms,
        start=start,
        taken_at=datetime(start.year, start.month, start.day, taken_hour, tzinfo=UTC),
        paid=Decimal(paid),
    )


def test_oldest_due_instalment_is_paid_first_across_loans():
    older = position("older", start=START)
    newer = position("newer", start=START + timedelta(days=3))
    # 100 each week; 250 pays older#1, newer#1, and 50 of older#2.
    assert allocate([newer, older], Decimal("250")) == {
        "older": Decimal("150"),
        "newer": Decimal("100"),
    }


def test_ties_go_to_the_loan_taken_first():
    first = position("first", taken_hour=1)
    second = position("second", taken_hour=2)
    assert allocate([second, first], Decimal("150")) == {
        "first": Decimal("100"),
        "second": Decimal("50"),
    }


def test_overpayment_is_refused_with_what_is_owed():
    with pytest.raises(Overpayment) as err:
        allocate([position("a", paid="990")], Decimal("10.01"))
    assert err.value.owed == Decimal("10")
    with pytest.raises(Overpayment):
        allocate([], Decimal("1"))


@st.composite
def portfolios(draw):
    count = draw(st.integers(min_value=1, max_value=5))
    positions = []
    for key in range(count):
        weeks = draw(st.integers(min_value=1, max_value=30))
        amount = draw(st.decimals(min_value=Decimal("10"), max_value=Decimal("100000"), places=2))
        terms = make_terms(amount=amount, interest_rate=Decimal("0.1"), term_weeks=weeks)
        paid = draw(st.decimals(min_value=ZERO, max_value=terms.total_amount, places=2))
        start = START + timedelta(days=draw(st.integers(min_value=0, max_value=60)))
        taken_at = datetime(start.year, start.month, start.day, tzinfo=UTC)
        positions.append(Position(key, terms, start, taken_at, paid))
    owed = sum((p.owed for p in positions), ZERO)
    if owed == ZERO:
        return positions, None
    amount = draw(st.decimals(min_value=Decimal("0.01"), max_value=owed, places=2))
    return positions, amount


@given(portfolios())
def test_allocation_is_exact_and_fills_the_oldest_due_first(case):
    positions, amount = case
    if amount is None:
        return
    shares = allocate(positions, amount)
    assert sum(shares.values()) == amount
    assert all(share > ZERO for share in shares.values())
    for p in positions:
        assert p.paid + shares.get(p.key, ZERO) <= p.terms.total_amount
    # After the payment, no unpaid instalment is due before a (partly) paid-by-it one.
    touched_due = []
    untouched_unpaid_due = []
    for p in positions:
        before = installment_states(
            installments=[
                (n, due_date(p.start, n), a) for n, a in enumerate(p.terms.installment_amounts(), 1)
            ],
            paid=p.paid,
            as_of=START,
        )
        after_paid = p.paid + shares.get(p.key, ZERO)
        for row in before:
            cumulative_end = sum((r.amount for r in before[: row.number]), ZERO)
            got = min(max(after_paid - (cumulative_end - row.amount), ZERO), row.amount)
            if got > row.paid_amount:
                touched_due.append((row.due_date, p.taken_at))
            if got < row.amount:
                untouched_unpaid_due.append((row.due_date, p.taken_at, got > row.paid_amount))
    if touched_due:
        latest_touched = max(touched_due)
        for due, taken, touched in untouched_unpaid_due:
            # anything left unpaid is due no earlier than the last instalment the payment touched
            assert (due, taken) >= latest_touched or touched
