"""What one keyed payment sends to PostgreSQL (issue 14): its statements, pinned.

A POST /api/payments with an Idempotency-Key, the caller's API key already
verified by this worker: every statement of the request's one transaction.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loans.models import Loan
from tests.factories import make_loan
from tests.payments.conftest import taken

pytestmark = pytest.mark.django_db(transaction=True)

EXPECTED = [
    "BEGIN",
    "SELECT pg_try_advisory_xact_lock",  # the key's lock ...
    "SELECT",  # ... and its stored answer: one round trip (pipeline)
    "SAVEPOINT",  # the view's writes, undone for a refusal
    "SAVEPOINT",  # payment_make's block
    "SELECT",  # the customer lock
    "SELECT",  # its loans locked, the duplicate check and the latest paid_at
    "INSERT",  # the payment
    "WITH",  # its details and the loans' new totals
    "SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED",  # the ledger's checks
    "RELEASE SAVEPOINT",
    "RELEASE SAVEPOINT",
    "INSERT",  # the key's answer
    "COMMIT",
]


@pytest.mark.parametrize("loans", [1, 3])
def test_a_keyed_payment_is_fourteen_statements_whatever_it_touches(
    client, pay, customer, settings, loans
):
    settings.API_KEY_CACHE_SECONDS = 60
    for i in range(loans):
        make_loan(
            customer=customer,
            external_id=f"L{i}",
            amount="5200",
            interest_rate="0",
            term_weeks=52,
            taken_at=taken(400),
        )
    assert client.get("/api/payments").status_code == 200  # this worker verifies the key
    with CaptureQueriesContext(connection) as queries:
        response = pay(str(5200 * loans), HTTP_IDEMPOTENCY_KEY="pinned")
    assert response.status_code == 201
    assert len(response.json()["details"]) == loans
    statements = [query["sql"] for query in queries.captured_queries]
    assert len(statements) == len(EXPECTED), "\n".join(statements)
    for sql, start in zip(statements, EXPECTED, strict=True):
        assert sql.startswith(start), (sql, start)
    assert Loan.objects.filter(status=Loan.Status.PAID).count() == loans
