"""The portfolio SQL and the plain-Python billing arithmetic must give the same answers.

The book is built the way a lender's is: loans taken at different past dates,
payments posted late and out of value order (each back-dated one replays its
customer), some reversed; and the answers are compared on both clocks.
"""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loans import selectors
from loans.models import Loan
from payments.models import Payment
from payments.services import payment_make, payment_reverse
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


def build_book(rng):
    customers = [CustomerFactory(score=Decimal("999999999999")) for _ in range(6)]
    loans = []
    for i in range(60):
        customer = rng.choice(customers)
        loans.append(
            make_loan(
                customer=customer,
                external_id=f"r{i}",
                amount=str(Decimal(rng.randint(100, 10_000_000)) / 100),
                interest_rate=rng.choice(["0", "0.05", "0.1", "0.33"]),
                term_weeks=rng.choice([1, 2, 3, 7, 50, 104]),
                taken_at=timezone.now()
                - timedelta(days=rng.randint(0, 800), hours=rng.randint(0, 23)),
            )
        )
    make_loan(customer=customers[0], external_id="still-pending")
    return customers, loans


def post_payments(rng, loans, count, prefix):
    """Payments received some days after their loan was taken, posted in random order."""
    posted = []
    for i in range(count):
        loan = rng.choice(loans)
        received = max(loan.taken_at, timezone.now() - timedelta(days=rng.randint(0, 150), hours=3))
        amount = (loan.total_amount * Decimal(rng.choice([0.05, 0.1, 0.3, 0.5, 1]))).quantize(
            Decimal("0.01")
        )
        payment = payment_make(
            external_id=f"{prefix}{i}",
            customer_external_id=loan.customer.external_id,
            total_amount=max(amount, Decimal("0.01")),
            loan_external_id=loan.external_id if rng.random() < 0.5 else None,
            paid_at=received,
        )
        posted.append(payment)
    return posted


def assert_sql_equals_python(as_of, known_at):
    rows = selectors.filter_existing_loans(
        Loan.objects.all(), selectors.Clock(as_of, known_at)
    ).annotate(
        missed=selectors.missed_installments_sql(as_of, known_at),
        overdue=selectors.overdue_amount_sql(as_of, known_at),
    )
    expected = set()
    for loan in rows:
        state = selectors.loan_billing_state(loan=loan, as_of=as_of, known_at=known_at)
        activated = known_at is None or (loan.activated_at and loan.activated_at <= known_at)
        if activated:
            assert (loan.missed, loan.overdue) == (
                state.missed_installments,
                state.overdue_amount,
            ), (loan.external_id, as_of, known_at)
        if state.is_delinquent:
            expected.add(loan.external_id)
    found = set(
        selectors.delinquent_loans(as_of=as_of, known_at=known_at).values_list(
            "external_id", flat=True
        )
    )
    assert found == expected, (as_of, known_at)
    summary = selectors.portfolio_delinquency(as_of=as_of, known_at=known_at)
    assert summary["delinquent_loans"] == len(expected)
    balances = selectors.customer_balance_list(as_of=as_of, known_at=known_at)
    for customer in balances:
        one = selectors.customer_balance(customer=customer, as_of=as_of, known_at=known_at)
        assert (customer.total_debt, customer.available_amount) == (
            one["total_debt"],
            one["available_amount"],
        ), (customer.external_id, as_of, known_at)
    return expected


def test_sql_equals_billing_with_backdated_and_reversed_payments_on_both_clocks():
    rng = random.Random(20261202)
    _, loans = build_book(rng)
    post_payments(rng, loans, 60, "a")
    midway = timezone.now()
    before = {
        as_of: assert_sql_equals_python(as_of, None)
        for as_of in (timezone.localdate() - timedelta(days=60), timezone.localdate())
    }
    later = post_payments(rng, loans, 60, "b")
    completed = [p for p in later if p.status == Payment.Status.COMPLETED]
    for payment in rng.sample(completed, 8):
        payment_reverse(external_id=payment.external_id, reason="bounced")
    assert Payment.objects.filter(status=Payment.Status.REVERSED).count() == 8

    today = timezone.localdate()
    for as_of in (
        today - timedelta(days=60),
        today - timedelta(days=1),
        today,
        today + timedelta(days=200),
    ):
        for known_at in (None, midway):
            assert_sql_equals_python(as_of, known_at)
    # As known midway, the answers are the ones given midway, whatever came after.
    for as_of, expected in before.items():
        assert assert_sql_equals_python(as_of, midway) == expected
