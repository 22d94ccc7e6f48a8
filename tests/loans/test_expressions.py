"""Each SQL expression of ``loans/expressions.py`` computes what its ``billing`` twin does.

PostgreSQL evaluates the expression over constants drawn by hypothesis; the
same inputs go through the plain-Python function. The loan's stored columns
(``paid_installments``, ``outstanding_principal``) are then checked after real
payments, since PostgreSQL keeps them.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import DateField, Value
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing import state
from billing.portfolio import outstanding_principal
from billing.schedule import due_date, make_terms
from loans import expressions
from loans.expressions import INTEGER, MONEY, LoanTerms
from loans.services import loan_activate
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db

cents = st.integers(min_value=1, max_value=10**12).map(lambda n: Decimal(n) / 100)
rates = st.sampled_from([Decimal(r) for r in ("0", "0.05", "0.1", "0.3333", "1")])
weeks = st.integers(min_value=1, max_value=520)
days = st.dates(min_value=date(1990, 1, 1), max_value=date(2150, 1, 1))


@st.composite
def loans(draw):
    """Terms made as the service makes them, and an amount paid between 0 and the total."""
    amount, rate, term = draw(cents), draw(rates), draw(weeks)
    total = (amount * (1 + rate)).quantize(Decimal("0.01"))
    if total / term < Decimal("0.01"):
        term = 1
    terms = make_terms(amount=amount, interest_rate=rate, term_weeks=term)
    paid = draw(st.integers(min_value=0, max_value=int(terms.total_amount * 100))) / Decimal(100)
    return terms, paid


def constants(terms, start) -> LoanTerms:
    return LoanTerms(
        amount=Value(terms.amount, output_field=MONEY),
        term_weeks=Value(terms.term_weeks, output_field=INTEGER),
        total_amount=Value(terms.total_amount, output_field=MONEY),
        installment_amount=Value(terms.installment_amount, output_field=MONEY),
        start_date=Value(start, output_field=DateField()),
    )


def evaluate(*built):
    """PostgreSQL's values of the expressions, in one SELECT."""
    parts, params = [], []
    for expression in built:
        text, values = expressions.sql_positional(expression)
        parts.append(text)
        params.extend(values)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(parts)}", params)
        return cursor.fetchone()


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(loans(), days, days)
def test_state_expressions_equal_billing_state(loan, start, as_of):
    terms, paid = loan
    row = constants(terms, start)
    paid_value = Value(paid, output_field=MONEY)
    falling = state.due_before(start, terms.term_weeks, as_of)
    fully = state.paid_installments(terms, paid)
    expected = state.loan_state(terms=terms, start=start, paid=paid, as_of=as_of)
    got = evaluate(
        expressions.paid_installments(row, paid_value),
        expressions.due_before(row, as_of),
        expressions.cumulative_due(row, falling),
        expressions.missed_installments_as_of(row, as_of=as_of, paid=paid_value),
        expressions.overdue_amount_as_of(row, as_of=as_of, paid=paid_value),
        expressions.days_past_due(row, as_of=as_of, falling_due=falling, fully_paid=fully),
        expressions.is_delinquent(Value(expected.missed_installments)),
        expressions.outstanding(row, paid_value),
    )
    assert got == (
        fully,
        falling,
        state.cumulative_due(terms, falling),
        expected.missed_installments,
        expected.overdue_amount,
        expected.days_past_due,
        expected.is_delinquent,
        expected.outstanding,
    )


@SETTINGS
@given(loans(), days, st.integers(min_value=0, max_value=520))
def test_schedule_and_principal_expressions_equal_billing(loan, start, number):
    terms, paid = loan
    owed = terms.total_amount - paid
    row = constants(terms, start)
    got = evaluate(
        expressions.due_date(start, number),
        expressions.outstanding_principal(row, Value(owed, output_field=MONEY)),
    )
    principal = outstanding_principal(
        outstanding=owed, amount=terms.amount, total_amount=terms.total_amount
    )
    assert got == (due_date(start, number), principal)


@SETTINGS
@given(loans(), st.data())
def test_instalment_expressions_equal_the_schedule_and_its_states(loan, data):
    terms, paid = loan
    number = data.draw(st.integers(min_value=1, max_value=terms.term_weeks))
    row = constants(terms, date(2026, 1, 1))
    amounts = terms.installment_amounts()
    earlier = sum(amounts[: number - 1], Decimal(0))
    states = state.installment_states(
        installments=[(n, date(2026, 1, 1), a) for n, a in enumerate(amounts, start=1)],
        paid=paid,
        as_of=date(2026, 1, 1),
    )
    got = evaluate(
        expressions.installment(row, number),
        expressions.cumulative_due(row, number - 1),
        expressions.paid_to_installment(
            paid=Value(paid, output_field=MONEY),
            earlier=Value(earlier, output_field=MONEY),
            amount=Value(amounts[number - 1], output_field=MONEY),
        ),
    )
    assert got == (amounts[number - 1], earlier, states[number - 1].paid_amount)


def test_a_loan_not_activated_misses_nothing_and_owes_nothing_overdue():
    terms = make_terms(amount=Decimal("100"), interest_rate=Decimal("0.1"), term_weeks=4)
    row = constants(terms, None)
    zero = Value(Decimal("0"), output_field=MONEY)
    assert evaluate(
        expressions.missed_installments_as_of(row, as_of=date(2026, 1, 1), paid=zero),
        expressions.overdue_amount_as_of(row, as_of=date(2026, 1, 1), paid=zero),
    ) == (0, Decimal("0"))


def test_the_loans_stored_state_follows_its_payments():
    customer = CustomerFactory(score=Decimal("100000"))
    loan = make_loan(
        customer=customer,
        external_id="stored-1",
        amount="1000.00",
        interest_rate="0.10",
        term_weeks=7,
    )
    loan.refresh_from_db()
    assert (loan.paid_installments, loan.outstanding_principal) == (0, Decimal("1000.00"))
    loan_activate(external_id=loan.external_id, taken_at=timezone.now() - timedelta(days=3))
    for number, amount in enumerate(["150.00", "0.01", "300.00", "649.99"], start=1):
        payment_make(
            external_id=f"stored-p{number}",
            customer_external_id=customer.external_id,
            total_amount=Decimal(amount),
        )
        loan.refresh_from_db()
        assert loan.paid_installments == state.paid_installments(loan.terms, loan.paid_amount)
        assert loan.outstanding_principal == outstanding_principal(
            outstanding=loan.outstanding, amount=loan.amount, total_amount=loan.total_amount
        )
    assert (loan.paid_installments, loan.outstanding_principal) == (7, Decimal("0.00"))


def test_due_before_counts_only_instalments_due_strictly_before_the_date():
    terms = make_terms(amount=Decimal("70"), interest_rate=Decimal("0"), term_weeks=3)
    start = date(2026, 1, 1)
    row = constants(terms, start)
    for offset, expected in [(0, 0), (7, 0), (8, 1), (14, 1), (15, 2), (400, 3)]:
        as_of = start + timedelta(days=offset)
        assert evaluate(expressions.due_before(row, as_of)) == (expected,)
