"""The portfolio SQL and the plain-Python billing arithmetic must give the same answers."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loans import selectors
from loans.models import Loan
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


def test_missed_and_overdue_in_sql_equal_billing_state(monkeypatch):
    rng = random.Random(20261120)
    customer = CustomerFactory(score=Decimal("999999999999"))
    for i in range(60):
        loan = make_loan(
            customer=customer,
            external_id=f"r{i}",
            amount=str(Decimal(rng.randint(100, 10_000_000)) / 100),
            interest_rate=rng.choice(["0", "0.05", "0.1", "0.33"]),
            term_weeks=rng.choice([1, 2, 3, 7, 50, 104]),
            taken_at=timezone.now() - timedelta(days=rng.randint(0, 800), hours=rng.randint(0, 23)),
        )
        paid = (loan.total_amount * Decimal(rng.choice([0, 0, 0.1, 0.5, 0.77, 1]))).quantize(
            Decimal("0.01")
        )
        if paid > 0:
            # Received some days ago: the clock the service reads is moved back.
            received = timezone.now() - timedelta(days=rng.randint(0, 120))
            with monkeypatch.context() as clock:
                clock.setattr(timezone, "now", lambda at=received: at)
                payment_make(
                    external_id=f"p{i}",
                    customer_external_id=customer.external_id,
                    total_amount=paid,
                    loan_external_id=loan.external_id,
                )
    make_loan(customer=customer, external_id="still-pending")

    today = timezone.localdate()
    for as_of in (
        today - timedelta(days=60),
        today - timedelta(days=1),
        today,
        today + timedelta(days=200),
    ):
        rows = Loan.objects.annotate(
            missed=selectors.missed_installments_sql(as_of),
            overdue=selectors.overdue_amount_sql(as_of),
        )
        for loan in rows:
            state = selectors.loan_billing_state(loan=loan, as_of=as_of)
            assert (loan.missed, loan.overdue) == (
                state.missed_installments,
                state.overdue_amount,
            ), (loan.external_id, as_of)
        expected = {
            loan.external_id
            for loan in rows
            if selectors.loan_billing_state(loan=loan, as_of=as_of).is_delinquent
        }
        found = set(selectors.delinquent_loans(as_of=as_of).values_list("external_id", flat=True))
        assert found == expected
        summary = selectors.portfolio_delinquency(as_of=as_of)
        assert summary["delinquent_loans"] == len(expected)
        assert summary["delinquent_customers"] == (1 if expected else 0)
