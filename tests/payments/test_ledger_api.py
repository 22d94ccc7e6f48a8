"""Value dates, reversals, replays and the two clocks, through the HTTP API."""

from datetime import timedelta
from decimal import Decimal
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from loans.models import Loan
from payments.models import Payment, PaymentDetail
from payments.verification import ledger_verify
from tests.factories import make_loan
from tests.payments.conftest import taken

pytestmark = pytest.mark.django_db


def iso(moment):
    """An instant for a query string (its "+" escaped)."""
    return quote(moment.isoformat())


def details(body):
    return {d["loan_external_id"]: d["amount"] for d in body["details"]}


@pytest.fixture
def post(client):
    def post(payload, path="/api/payments", **headers):
        return client.post(path, payload, format="json", **headers)

    return post


def pay(post, external_id, amount, *, paid_at=None, loan=None, customer="C1"):
    payload = {"external_id": external_id, "customer_external_id": customer, "total_amount": amount}
    if paid_at is not None:
        payload["paid_at"] = paid_at.isoformat()
    if loan is not None:
        payload["loan_external_id"] = loan
    return post(payload)


def test_a_payment_posted_late_counts_on_its_value_date(client, post, two_loans):
    # A (100 a week) was due 13 days ago; the money came in 14 days ago, posted today.
    ten_days_ago = (timezone.localdate() - timedelta(days=10)).isoformat()
    response = pay(post, "on-time", "100", paid_at=taken(14), loan="A")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["paid_at"] != body["recorded_at"]
    state = client.get(f"/api/loans/A?as_of={ten_days_ago}").json()
    assert (state["missed_installments"], state["paid_amount"]) == (0, "100.00")
    # The same payment stamped now would leave A#1 missed as of ten days ago.
    pay(post, "stamped-now", "100", loan="B")
    assert client.get(f"/api/loans/B?as_of={ten_days_ago}").json()["paid_amount"] == "0.00"


def test_a_backdated_payment_replays_later_ones_and_keeps_the_old_rows(client, post, two_loans):
    first = pay(post, "P-now", "150").json()
    assert details(first) == {"A": "150.00"}  # A#1, A#2 … oldest first
    before = timezone.now()
    # Money received 5 days ago (B taken 10 days ago: both loans could take it).
    late = pay(post, "P-late", "100", paid_at=taken(5)).json()
    assert late["status"] == Payment.Status.COMPLETED
    assert details(late) == {"A": "100.00"}
    # Replayed: P-late came first in value time, so P-now now pays A#2's rest, then B#1.
    replayed = client.get("/api/payments/P-now").json()
    assert details(replayed) == {"A": "100.00", "B": "50.00"}
    assert PaymentDetail.objects.filter(superseded_at__isnull=False).count() == 1
    # The statement as known before the late posting is what it said then.
    old = client.get(f"/api/loans/A/transactions?known_at={iso(before)}").json()
    assert [(line["type"], line["amount"]) for line in old] == [
        ("activation", "1000.00"),
        ("payment", "150.00"),
    ]
    now = client.get("/api/loans/A/transactions").json()
    assert [
        (line.get("payment_external_id"), line["amount"], line["outstanding"]) for line in now
    ] == [
        (None, "1000.00", "1000.00"),
        ("P-late", "100.00", "900.00"),
        ("P-now", "100.00", "800.00"),
    ]
    assert list(ledger_verify()) == []


def test_a_backdated_payment_that_would_crowd_out_a_later_one_is_rejected(post, customer):
    make_loan(
        customer=customer,
        external_id="S",
        amount="100",
        interest_rate="0",
        term_weeks=1,
        taken_at=taken(20),
    )
    assert pay(post, "rest", "90").json()["status"] == Payment.Status.COMPLETED
    late = pay(post, "too-early", "20", paid_at=taken(10)).json()
    assert late["status"] == Payment.Status.REJECTED
    assert "'rest'" in late["rejection_reason"]
    assert PaymentDetail.objects.filter(superseded_at__isnull=False).count() == 0
    assert Loan.objects.get(external_id="S").paid_amount == Decimal("90.00")


def test_payment_value_date_rules(post, two_loans):
    future = pay(post, "F", "10", paid_at=timezone.now() + timedelta(minutes=5))
    assert (future.status_code, future.json()["code"]) == (400, "paid_at_in_future")
    before_b = pay(post, "X", "10", paid_at=taken(15), loan="B")
    assert (before_b.status_code, before_b.json()["code"]) == (400, "loan_not_active")
    nothing = pay(post, "Y", "10", paid_at=taken(30)).json()
    assert (nothing["status"], nothing["rejection_reason"]) == (
        Payment.Status.REJECTED,
        "There is nothing to pay.",
    )
    for bad in ("yesterday", "2026-13-01T00:00:00Z", "2026-06-01T10:00:00+25:00", 20261201):
        response = post(
            {"external_id": "Z", "customer_external_id": "C1", "total_amount": "1", "paid_at": bad}
        )
        assert response.status_code == 400, bad
        assert "paid_at" in response.json()["fields"]
    assert not Payment.objects.filter(external_id__in=["F", "X", "Z"]).exists()


def test_reversal_restores_the_loan_and_reopens_a_paid_one(client, post, two_loans):
    pay(post, "all-of-B", "500", loan="B")
    assert Loan.objects.get(external_id="B").status == Loan.Status.PAID
    after_payment = timezone.now()
    response = post({"reason": "transfer bounced"}, path="/api/payments/all-of-B/reverse")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["reversal_reason"], body["details"]) == (
        Payment.Status.REVERSED,
        "transfer bounced",
        [],
    )
    assert body["reversed_at"]
    loan_b = client.get("/api/loans/B").json()
    assert (loan_b["status"], loan_b["outstanding"]) == (Loan.Status.ACTIVE, "500.00")
    assert [line["type"] for line in client.get("/api/loans/B/transactions").json()] == [
        "activation"
    ]
    # As known before the reversal, the payment still paid B off.
    then = client.get(f"/api/loans/B?known_at={iso(after_payment)}").json()
    assert (then["status"], then["outstanding"]) == (Loan.Status.PAID, "0.00")
    statement = client.get(f"/api/loans/B/transactions?known_at={iso(after_payment)}").json()
    assert statement[-1]["payment_external_id"] == "all-of-B"
    again = post({"reason": "twice"}, path="/api/payments/all-of-B/reverse")
    assert (again.status_code, again.json()["code"]) == (422, "invalid_state")
    assert list(ledger_verify()) == []


def test_reversal_replays_the_later_payments(client, post, two_loans):
    pay(post, "early", "200", paid_at=taken(9))
    pay(post, "later", "100")
    assert details(client.get("/api/payments/later").json()) == {"B": "100.00"}
    post({"reason": "posted to the wrong customer"}, path="/api/payments/early/reverse")
    # Without "early", "later" goes to the oldest instalment again: A#1.
    assert details(client.get("/api/payments/later").json()) == {"A": "100.00"}
    assert Loan.objects.get(external_id="A").paid_amount == Decimal("100.00")


def test_reversal_bad_input(post, two_loans):
    pay(post, "ok", "10")
    rejected = pay(post, "too-much", "999999").json()
    assert rejected["status"] == Payment.Status.REJECTED
    cases = [
        ("/api/payments/nope/reverse", {"reason": "x"}, 404, "not_found"),
        ("/api/payments/too-much/reverse", {"reason": "x"}, 422, "invalid_state"),
        ("/api/payments/ok/reverse", {}, 400, "invalid"),
        ("/api/payments/ok/reverse", {"reason": ""}, 400, "invalid"),
        ("/api/payments/ok/reverse", {"reason": "x" * 201}, 400, "invalid"),
        ("/api/payments/ok/reverse", {"reason": "x", "extra": 1}, 400, "invalid"),
    ]
    for path, body, status, code in cases:
        response = post(body, path=path)
        assert (response.status_code, response.json()["code"]) == (status, code), (path, body)
    assert Payment.objects.get(external_id="ok").status == Payment.Status.COMPLETED


def test_reversal_honours_idempotency_keys(post, two_loans):
    pay(post, "ok", "10")
    first = post({"reason": "bounced"}, path="/api/payments/ok/reverse", HTTP_IDEMPOTENCY_KEY="k1")
    again = post({"reason": "bounced"}, path="/api/payments/ok/reverse", HTTP_IDEMPOTENCY_KEY="k1")
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json()
    other = post({"reason": "other"}, path="/api/payments/ok/reverse", HTTP_IDEMPOTENCY_KEY="k1")
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")


def test_a_backdated_activation_replays_the_payments_it_could_have_taken(client, post, customer):
    make_loan(
        customer=customer,
        external_id="A",
        amount="1000",
        interest_rate="0",
        term_weeks=10,
        taken_at=taken(20),
    )
    pending = make_loan(
        customer=customer, external_id="N", amount="300", interest_rate="0", term_weeks=3
    )
    pay(post, "P", "250", paid_at=taken(2))
    assert details(client.get("/api/payments/P").json()) == {"A": "250.00"}
    response = post(
        {"taken_at": taken(12).isoformat()}, path=f"/api/loans/{pending.external_id}/activate"
    )
    assert response.status_code == 200, response.json()
    # N#1 fell due 5 days ago, before A#3 (1 day from now): P pays A#1, A#2, then N#1.
    assert details(client.get("/api/payments/P").json()) == {"A": "200.00", "N": "50.00"}
    assert list(ledger_verify()) == []


def test_known_at_bad_input_and_unknown_yet(client, customer, two_loans):
    future = iso(timezone.now() + timedelta(minutes=1))
    for path in (
        "/api/loans/A",
        "/api/loans/A/schedule",
        "/api/customers/C1/balance",
        "/api/loans/A/transactions",
        "/api/customers/balance",
        "/api/loans?delinquent=true",
    ):
        sep = "&" if "?" in path else "?"
        response = client.get(f"{path}{sep}known_at={future}")
        assert (response.status_code, response.json()["code"]) == (400, "known_at_in_future"), path
        bad = client.get(f"{path}{sep}known_at=not-a-time")
        assert bad.status_code == 400, path
    long_ago = iso(customer.created_at - timedelta(seconds=1))
    assert client.get(f"/api/loans/A?known_at={long_ago}").status_code == 404
    assert client.get(f"/api/customers/C1/balance?known_at={long_ago}").status_code == 404


def test_answers_as_known_at_a_past_instant_never_change(client, post, two_loans):
    pay(post, "p1", "300")
    moment = timezone.now()
    urls = [
        f"/api/loans/A?known_at={iso(moment)}",
        f"/api/loans/A/schedule?known_at={iso(moment)}",
        f"/api/customers/C1/balance?known_at={iso(moment)}",
        f"/api/customers/balance?known_at={iso(moment)}",
        f"/api/loans/A/transactions?known_at={iso(moment)}",
    ]
    answers = [client.get(url).json() for url in urls]
    pay(post, "p2", "120", paid_at=taken(8))
    post({"reason": "bounced"}, path="/api/payments/p1/reverse")
    pay(post, "p3", "55")
    assert [client.get(url).json() for url in urls] == answers
    assert client.get("/api/customers/C1/balance").json() != answers[2]


def test_a_balance_as_of_a_past_date_leaves_out_loans_created_later(client, customer, two_loans):
    make_loan(customer=customer, external_id="new", amount="400", interest_rate="0", term_weeks=4)
    yesterday = (timezone.localdate() - timedelta(days=1)).isoformat()
    assert client.get("/api/customers/C1/balance").json()["total_debt"] == "1900.00"
    assert client.get(f"/api/customers/C1/balance?as_of={yesterday}").json()["total_debt"] == (
        "1500.00"
    )
    row = client.get(f"/api/customers/balance?as_of={yesterday}").json()["results"][0]
    assert row["total_debt"] == "1500.00"
    ids = {r["external_id"] for r in client.get(f"/api/loans?as_of={yesterday}").json()["results"]}
    assert ids == {"A", "B"}


def test_the_database_allows_only_supersession_and_reversal(post, two_loans):
    pay(post, "p", "150")
    detail = PaymentDetail.objects.get()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        PaymentDetail.objects.filter(pk=detail.pk).update(amount=Decimal("1"))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        PaymentDetail.objects.filter(pk=detail.pk).delete()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Payment.objects.filter(external_id="p").update(total_amount=Decimal("1"))
    # Superseding without writing the replacement breaks the ledger check at commit.
    with pytest.raises(IntegrityError, match="add up"), transaction.atomic():
        PaymentDetail.objects.filter(pk=detail.pk).update(superseded_at=timezone.now())
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    # A row is superseded once at most.
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        now = timezone.now()
        PaymentDetail.objects.filter(pk=detail.pk).update(superseded_at=now)
        PaymentDetail.objects.filter(pk=detail.pk).update(superseded_at=now + timedelta(1))
    # Reversing without superseding the details is refused at commit.
    with pytest.raises(IntegrityError, match="in force"), transaction.atomic():
        Payment.objects.filter(external_id="p").update(
            status=Payment.Status.REVERSED, reversed_at=timezone.now(), reversal_reason="x"
        )
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_verify_ledger_command_finds_a_tampered_allocation(post, two_loans, capsys):
    pay(post, "p", "150")
    call_command("verify_ledger")
    assert "matches" in capsys.readouterr().out
    with connection.cursor() as cursor:
        # What a restore gone wrong could leave: the triggers off, an amount moved.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE payments_paymentdetail DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE loans_loan DISABLE TRIGGER USER")
        cursor.execute("UPDATE payments_paymentdetail SET amount = amount - 50")
        cursor.execute(
            "UPDATE loans_loan SET paid_amount = paid_amount - 50, "
            "outstanding = outstanding + 50 WHERE external_id = 'A'"
        )
        cursor.execute("ALTER TABLE payments_paymentdetail ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE loans_loan ENABLE TRIGGER USER")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="mismatch"):
        call_command("verify_ledger")
