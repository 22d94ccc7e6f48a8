"""Payments fired at once from real threads against real PostgreSQL.

Each thread has its own connection and every request commits, so the row
locks, unique constraints and deferred ledger triggers are all really at work.
"""

import random
import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from rest_framework.test import APIClient

from loans.models import Loan
from payments.models import Payment, PaymentDetail
from payments.services import payment_make
from payments.verification import ledger_verify
from tests.factories import CustomerFactory, make_loan
from tests.payments.conftest import taken

pytestmark = pytest.mark.django_db(transaction=True)


def fire(api_key, requests, threads=12):
    """POST every (path, payload, headers) from ``threads`` threads started together."""
    barrier = threading.Barrier(threads)
    results = []
    lock = threading.Lock()
    chunks = [requests[i::threads] for i in range(threads)]

    def worker(chunk):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        try:
            barrier.wait(timeout=30)
            for path, payload, headers in chunk:
                response = client.post(path, payload, format="json", **headers)
                with lock:
                    results.append((response.status_code, response.json()))
        finally:
            connection.close()

    pool = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool)
    return results


def assert_ledger_is_exact():
    for loan in Loan.objects.all():
        paid = PaymentDetail.current.filter(loan=loan).aggregate(s=Sum("amount"))["s"] or 0
        assert loan.paid_amount == paid, loan.external_id
        assert loan.outstanding == loan.total_amount - paid >= 0
        assert (loan.status == Loan.Status.PAID) == (loan.outstanding == 0)
    for payment in Payment.objects.filter(status=Payment.Status.COMPLETED):
        total = PaymentDetail.current.filter(payment=payment).aggregate(s=Sum("amount"))["s"]
        assert total == payment.total_amount


def test_many_payments_on_one_customer_never_overspend(api_key):
    customer = CustomerFactory(external_id="hot", score=Decimal("1000000"))
    for i in range(3):
        make_loan(
            customer=customer,
            external_id=f"L{i}",
            amount="1000",
            interest_rate="0",
            term_weeks=10,
            taken_at=taken(30 + i),
        )
    rng = random.Random(7)
    amounts = [
        Decimal(rng.randint(1, 40000)) / 100 for _ in range(120)
    ]  # ~24,000 asked, 3,000 owed
    requests = [
        (
            "/api/payments",
            {"external_id": f"p{i}", "customer_external_id": "hot", "total_amount": str(a)},
            {},
        )
        for i, a in enumerate(amounts)
    ]
    results = fire(api_key, requests)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: len(requests)}, statuses
    completed = Payment.objects.filter(status=Payment.Status.COMPLETED)
    paid_total = completed.aggregate(s=Sum("total_amount"))["s"]
    assert paid_total <= Decimal("3000")
    assert paid_total == Loan.objects.aggregate(s=Sum("paid_amount"))["s"]
    # Every payment was judged against what was owed when it ran: a rejected one
    # asked for more than was left then, so nothing it asked could have fitted.
    assert Payment.objects.filter(status=Payment.Status.REJECTED).count() > 0
    assert_ledger_is_exact()


def test_payments_spread_over_customers_all_land(api_key):
    for c in range(6):
        customer = CustomerFactory(external_id=f"c{c}")
        make_loan(
            customer=customer,
            external_id=f"l{c}",
            amount="1000",
            interest_rate="0",
            term_weeks=10,
            taken_at=taken(15),
        )
    requests = [
        (
            "/api/payments",
            {"external_id": f"p{i}", "customer_external_id": f"c{i % 6}", "total_amount": "25.00"},
            {},
        )
        for i in range(60)
    ]
    results = fire(api_key, requests)
    assert Counter(s for s, _ in results) == {201: 60}
    assert all(body["status"] == Payment.Status.COMPLETED for _, body in results)
    for loan in Loan.objects.all():
        assert loan.paid_amount == Decimal("250.00")
    assert_ledger_is_exact()


def test_duplicate_external_ids_racing_one_wins_the_rest_get_400(api_key):
    for c in range(4):
        make_loan(
            customer=CustomerFactory(external_id=f"c{c}"),
            external_id=f"l{c}",
            amount="1000",
            taken_at=taken(3),
        )
    requests = [
        (
            "/api/payments",
            {"external_id": "same", "customer_external_id": f"c{i % 4}", "total_amount": "10"},
            {},
        )
        for i in range(24)
    ]
    results = fire(api_key, requests)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 1, 400: 23}, statuses
    assert all("external_id" in body["fields"] for status, body in results if status == 400)
    assert Payment.objects.count() == 1
    assert_ledger_is_exact()


def test_same_idempotency_key_racing_records_one_payment(api_key):
    make_loan(
        customer=CustomerFactory(external_id="c"), external_id="l", amount="1000", taken_at=taken(3)
    )
    payload = {"external_id": "once", "customer_external_id": "c", "total_amount": "10"}
    requests = [("/api/payments", payload, {"HTTP_IDEMPOTENCY_KEY": "k"})] * 24
    results = fire(api_key, requests)
    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 1
    assert Payment.objects.count() == 1
    assert len({body["external_id"] for status, body in results if status == 201}) == 1


def test_loans_created_concurrently_never_exceed_the_credit_line(api_key):
    CustomerFactory(external_id="c", score=Decimal("1000"))
    requests = [
        (
            "/api/loans",
            {
                "external_id": f"l{i}",
                "customer_external_id": "c",
                "amount": "100",
                "interest_rate": "0",
                "term_weeks": 4,
            },
            {},
        )
        for i in range(30)
    ]
    results = fire(api_key, requests)
    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 10, 422: 20}, statuses
    assert Loan.objects.aggregate(s=Sum("outstanding"))["s"] == Decimal("1000")


def test_reversals_racing_payments_and_backdated_payments_keep_the_replay_exact(api_key):
    customer = CustomerFactory(external_id="busy", score=Decimal("1000000"))
    for i in range(3):
        make_loan(
            customer=customer,
            external_id=f"B{i}",
            amount="2000",
            interest_rate="0",
            term_weeks=20,
            taken_at=taken(60 - 10 * i),
        )
    rng = random.Random(11)
    earlier = []
    for i in range(30):
        payment = payment_make(
            external_id=f"e{i}",
            customer_external_id="busy",
            total_amount=Decimal(rng.randint(1000, 9000)) / 100,
            paid_at=taken(rng.randint(0, 40)),
        )
        earlier.append(payment.external_id)
    requests = []
    for i in range(40):
        payload = {
            "external_id": f"n{i}",
            "customer_external_id": "busy",
            "total_amount": str(Decimal(rng.randint(1000, 9000)) / 100),
        }
        if i % 2:
            payload["paid_at"] = taken(rng.randint(0, 50)).isoformat()
        requests.append(("/api/payments", payload, {}))
    for external_id in rng.sample(earlier, 12) + rng.sample(earlier, 4):
        requests.append((f"/api/payments/{external_id}/reverse", {"reason": "bounced"}, {}))
    rng.shuffle(requests)

    results = fire(api_key, requests, threads=8)

    statuses = Counter(status for status, _ in results)
    assert set(statuses) <= {200, 201, 422}, statuses
    assert statuses[201] == 40
    unique_reversals = len({path for path, _, _ in requests if path.endswith("/reverse")})
    assert statuses[200] == unique_reversals
    assert all(body["code"] == "invalid_state" for status, body in results if status == 422)
    assert Payment.objects.filter(status=Payment.Status.REVERSED).count() == unique_reversals
    assert list(ledger_verify()) == []
    assert_ledger_is_exact()
