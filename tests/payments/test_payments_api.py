from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from loans.models import Loan
from payments.models import Payment, PaymentDetail
from tests.factories import CustomerFactory, make_loan
from tests.payments.conftest import taken

pytestmark = pytest.mark.django_db


def loan(external_id):
    return Loan.objects.get(external_id=external_id)


def details(body):
    return {d["loan_external_id"]: d["amount"] for d in body["details"]}


def test_payment_goes_to_the_oldest_due_instalments_across_loans(pay, two_loans):
    # Due: A#1 (day -13), A#2 (day -6), B#1 (day -3), A#3 (day +1), B#2 (day +4) …
    # A's instalments are 100, B's are 100.
    response = pay("250")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == Payment.Status.COMPLETED
    assert body["rejection_reason"] == ""
    assert details(body) == {"A": "200.00", "B": "50.00"}
    assert (loan("A").outstanding, loan("B").outstanding) == (Decimal("800.00"), Decimal("450.00"))
    # Next: rest of B#1 (50), then A#3 (100), then B#2.
    assert details(pay("200").json()) == {"B": "100.00", "A": "100.00"}


def test_ties_on_due_date_go_to_the_loan_taken_first(pay, customer):
    when = taken(3)
    make_loan(
        customer=customer,
        external_id="late",
        amount="100",
        interest_rate="0",
        term_weeks=1,
        taken_at=when,
    )
    make_loan(
        customer=customer,
        external_id="early",
        amount="100",
        interest_rate="0",
        term_weeks=1,
        taken_at=when - timedelta(hours=1),
    )
    assert details(pay("150").json()) == {"early": "100.00", "late": "50.00"}


def test_one_loan_payment_touches_only_that_loan(pay, two_loans):
    body = pay("120", loan="B").json()
    assert details(body) == {"B": "120.00"}
    assert body["loan_external_id"] == "B"
    assert loan("A").paid_amount == Decimal("0")


def test_partial_instalment_shows_in_the_schedule(client, pay, two_loans):
    pay("150", loan="A")
    rows = client.get("/api/loans/A/schedule").json()
    assert [(r["paid_amount"], r["status"]) for r in rows[:3]] == [
        ("100.00", "paid"),
        ("50.00", "missed"),  # A#2 was due 6 days ago
        ("0.00", "due"),
    ]
    pay("100", loan="B")
    rows = client.get("/api/loans/B/schedule").json()
    assert [r["status"] for r in rows[:2]] == ["paid", "due"]
    pay("50", loan="B")
    assert client.get("/api/loans/B/schedule").json()[1]["status"] == "partial"


def test_paying_everything_marks_the_loan_paid(client, pay, two_loans):
    body = pay("500", loan="B").json()
    assert details(body) == {"B": "500.00"}
    paid = client.get("/api/loans/B").json()
    assert (paid["status"], paid["outstanding"], paid["is_delinquent"]) == (
        Loan.Status.PAID,
        "0.00",
        False,
    )
    # Paid loans no longer count as debt.
    assert client.get("/api/customers/C1/balance").json()["total_debt"] == "1000.00"
    # A paid loan may still take a payment dated before it was paid off; one made
    # now finds nothing to pay and is recorded as rejected.
    late = pay("1", loan="B")
    assert late.status_code == 201
    assert (late.json()["status"], late.json()["rejection_reason"]) == (
        Payment.Status.REJECTED,
        "There is nothing to pay.",
    )


def test_overpayment_is_recorded_rejected_and_changes_nothing(pay, two_loans):
    response = pay("1500.01", external_id="too-much")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == Payment.Status.REJECTED
    assert "1500.00" in body["rejection_reason"]
    assert body["details"] == []
    assert Payment.objects.get(external_id="too-much").status == Payment.Status.REJECTED
    assert not PaymentDetail.objects.exists()
    assert loan("A").outstanding == Decimal("1000.00")


def test_payment_with_nothing_to_pay_is_rejected(pay, customer):
    body = pay("10").json()
    assert body["status"] == Payment.Status.REJECTED
    assert body["rejection_reason"] == "There is nothing to pay."


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer": "ghost"}, "customer_external_id"),
        ({"loan": "ghost"}, "loan_external_id"),
        ({"loan": "theirs"}, "loan_external_id"),
        ({"loan": "pending"}, "loan_external_id"),
        ({"amount": "0"}, "total_amount"),
        ({"amount": "-1"}, "total_amount"),
        ({"amount": "1.005"}, "total_amount"),
        ({"amount": "Infinity"}, "total_amount"),
        ({"amount": "1e13"}, "total_amount"),
    ],
)
def test_bad_payments_are_400_and_nothing_is_recorded(pay, two_loans, overrides, field):
    make_loan(customer=CustomerFactory(), external_id="theirs", taken_at=taken(1))
    make_loan(customer=two_loans[0].customer, external_id="pending", amount="10")
    amount = overrides.pop("amount", "10")
    response = pay(amount, **overrides)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Payment.objects.exists()
    assert loan("A").paid_amount == Decimal("0")


def test_duplicate_external_id_is_400_and_the_first_stands(pay, two_loans):
    assert pay("10", external_id="same").status_code == 201
    response = pay("20", external_id="same")
    assert response.status_code == 400
    assert "external_id" in response.json()["fields"]
    assert Payment.objects.get().total_amount == Decimal("10")


def test_as_of_counts_only_payments_made_on_or_before_the_date(client, pay, two_loans):
    pay("1500")  # pays everything off today
    today = timezone.localdate()
    assert client.get("/api/loans/A").json()["missed_installments"] == 0
    yesterday = client.get(
        "/api/loans/A", {"as_of": (today - timedelta(days=1)).isoformat()}
    ).json()
    assert yesterday["paid_amount"] == "0.00"
    assert yesterday["missed_installments"] == 2
    assert yesterday["is_delinquent"] is True
    assert (
        client.get(
            "/api/loans", {"delinquent": "true", "as_of": (today - timedelta(days=1)).isoformat()}
        ).json()["count"]
        == 1
    )
    balance = client.get(
        "/api/customers/C1/balance", {"as_of": (today - timedelta(days=1)).isoformat()}
    ).json()
    assert (balance["total_debt"], balance["is_delinquent"]) == ("1500.00", True)


def test_paying_the_missed_instalments_cures_delinquency_at_once(client, pay, two_loans):
    assert client.get("/api/loans/A").json()["is_delinquent"] is True
    pay("200", loan="A")
    state = client.get("/api/loans/A").json()
    assert (state["is_delinquent"], state["missed_installments"], state["overdue_amount"]) == (
        False,
        0,
        "0.00",
    )
    assert client.get("/api/customers?delinquent=true").json()["count"] == 0


def test_read_list_and_filter_payments(client, pay, two_loans):
    pay("10", external_id="p1")
    pay("99999", external_id="p2")  # rejected
    other = CustomerFactory(external_id="C2")
    make_loan(customer=other, external_id="O", amount="100", taken_at=taken(1))
    pay("5", customer="C2", external_id="p3")
    one = client.get("/api/payments/p1").json()
    assert (one["total_amount"], details(one)) == ("10.00", {"A": "10.00"})
    assert client.get("/api/payments?status=2").json()["results"][0]["external_id"] == "p2"
    mine = client.get("/api/payments", {"customer_external_id": "C2"}).json()
    assert [p["external_id"] for p in mine["results"]] == ["p3"]
    nested = client.get("/api/customers/C1/payments").json()
    assert [p["external_id"] for p in nested["results"]] == ["p1", "p2"]
    future = (timezone.now() + timedelta(days=1)).isoformat()
    assert client.get("/api/payments", {"paid_from": future}).json()["count"] == 0
    assert client.get("/api/payments", {"paid_to": future}).json()["count"] == 3
    assert client.get("/api/payments/nope").status_code == 404
    assert client.get("/api/payments?paid_from=soon").status_code == 400


@pytest.mark.parametrize("loans", [1, 20])
def test_payment_costs_the_same_queries_whatever_it_touches(
    pay, customer, django_assert_num_queries, loans
):
    for i in range(loans):
        make_loan(
            customer=customer,
            external_id=f"L{i}",
            amount="5200",
            interest_rate="0",
            term_weeks=52,
            taken_at=taken(400),
        )
    # key, savepoint pair, customer lock, loans lock with the duplicate check, payment,
    # details with the loans update (one statement); the response is rendered from
    # what was written.
    with django_assert_num_queries(7):
        response = pay(str(5200 * loans))
    assert response.status_code == 201
    assert len(response.json()["details"]) == loans
    assert Loan.objects.filter(status=Loan.Status.PAID).count() == loans


@pytest.mark.parametrize("page_size", [1, 50])
def test_payment_list_costs_constant_queries(
    client, pay, two_loans, django_assert_num_queries, page_size
):
    for _ in range(5):
        pay("1")
    with django_assert_num_queries(4):
        client.get(f"/api/payments?page_size={page_size}")
