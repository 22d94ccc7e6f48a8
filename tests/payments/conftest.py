from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, make_loan


@pytest.fixture
def customer(db):
    return CustomerFactory(external_id="C1", score=Decimal("100000000"))


@pytest.fixture
def pay(client):
    counter = iter(range(1, 10**6))

    def pay(amount, *, customer="C1", loan=None, external_id=None, **headers):
        payload = {
            "external_id": external_id or f"P{next(counter)}",
            "customer_external_id": customer,
            "total_amount": str(amount),
        }
        if loan is not None:
            payload["loan_external_id"] = loan
        return client.post("/api/payments", payload, format="json", **headers)

    return pay


def taken(days: int):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def two_loans(customer):
    """Loan A taken 20 days ago (due at days 7, 14, 21, …), loan B taken 10 days ago."""
    a = make_loan(
        customer=customer,
        external_id="A",
        amount="1000",
        interest_rate="0",
        term_weeks=10,
        taken_at=taken(20),
    )
    b = make_loan(
        customer=customer,
        external_id="B",
        amount="500",
        interest_rate="0",
        term_weeks=5,
        taken_at=taken(10),
    )
    return a, b
