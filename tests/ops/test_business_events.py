"""Real API calls move the business counters and write one event line each, after the commit."""

from datetime import timedelta

import pytest
from django.urls import resolve
from django.utils import timezone

from tests.ops.conftest import METRICS_TOKEN, parse_metrics

# The services report after their transaction commits (transaction.on_commit),
# so these tests commit for real.
pytestmark = pytest.mark.django_db(transaction=True)


def _payments_api_exists() -> bool:
    return resolve("/api/payments").view_name != "mo_loans.api.views.api_not_found"


def scrape(client) -> dict:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    return parse_metrics(response.content.decode())


@pytest.fixture
def customer(client):
    response = client.post(
        "/api/customers", {"external_id": "ops-C1", "score": "100000.00"}, format="json"
    )
    assert response.status_code == 201, response.json()
    return "ops-C1"


def create_loan(client, external_id, customer, amount="1000.00", request_id=None):
    headers = {"HTTP_X_REQUEST_ID": request_id} if request_id else {}
    response = client.post(
        "/api/loans",
        {
            "external_id": external_id,
            "customer_external_id": customer,
            "amount": amount,
            "interest_rate": "0.10",
            "term_weeks": 10,
        },
        format="json",
        **headers,
    )
    assert response.status_code == 201, response.json()
    return response


def test_loan_api_calls_move_the_loan_counters(client, anon_client, customer, json_logs):
    before = scrape(anon_client)
    create_loan(client, "ops-L1", customer, request_id="create-ops-L1")
    create_loan(client, "ops-L2", customer)
    taken_at = (timezone.now() - timedelta(days=1)).isoformat()
    activated = client.post("/api/loans/ops-L1/activate", {"taken_at": taken_at}, format="json")
    assert activated.status_code == 200, activated.json()
    assert client.post("/api/loans/ops-L2/reject", format="json").status_code == 200
    # Refused requests count nothing.
    assert client.post("/api/loans/ops-L2/activate", format="json").status_code == 422
    assert create_loan_refused(client, customer).status_code == 422
    after = scrape(anon_client)

    def delta(name, **labels):
        return after.get((name, frozenset(labels.items())), 0) - before.get(
            (name, frozenset(labels.items())), 0
        )

    assert delta("mo_loans_loans_created_total") == 2
    assert delta("mo_loans_loans_created_amount_total") == pytest.approx(2000.00)
    assert delta("mo_loans_loans_activated_total") == 1
    assert delta("mo_loans_loans_activated_amount_total") == pytest.approx(1100.00)
    assert delta("mo_loans_loans_rejected_total") == 1

    created = json_logs.events("loan_created")
    assert [line["loan_external_id"] for line in created] == ["ops-L1", "ops-L2"]
    first = created[0]
    assert first["request_id"] == "create-ops-L1"
    assert first["customer_external_id"] == customer
    assert (first["amount"], first["total_amount"]) == ("1000.00", "1100.00")
    (line,) = json_logs.events("loan_activated")
    assert (line["loan_external_id"], line["total_amount"]) == ("ops-L1", "1100.00")
    (line,) = json_logs.events("loan_rejected")
    assert line["loan_external_id"] == "ops-L2"


def create_loan_refused(client, customer):
    return client.post(
        "/api/loans",
        {"external_id": "ops-too-big", "customer_external_id": customer, "amount": "999999.00"},
        format="json",
    )


@pytest.mark.skipif(not _payments_api_exists(), reason="POST /api/payments is not routed yet")
def test_payment_api_calls_move_the_payment_counters(client, anon_client, customer, json_logs):
    create_loan(client, "ops-P-L1", customer)
    taken_at = (timezone.now() - timedelta(days=1)).isoformat()
    client.post("/api/loans/ops-P-L1/activate", {"taken_at": taken_at}, format="json")
    before = scrape(anon_client)
    paid = client.post(
        "/api/payments",
        {"external_id": "ops-P1", "customer_external_id": customer, "total_amount": "150.00"},
        format="json",
        HTTP_X_REQUEST_ID="pay-ops-P1",
    )
    assert paid.status_code == 201, paid.json()
    too_much = client.post(
        "/api/payments",
        {"external_id": "ops-P2", "customer_external_id": customer, "total_amount": "5000.00"},
        format="json",
    )
    assert too_much.status_code == 201, too_much.json()
    after = scrape(anon_client)

    def delta(name, **labels):
        key = (name, frozenset(labels.items()))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("mo_loans_payments_total", status="completed") == 1
    assert delta("mo_loans_payments_total", status="rejected") == 1
    assert delta("mo_loans_payments_amount_total", status="completed") == pytest.approx(150.00)
    assert delta("mo_loans_payments_amount_total", status="rejected") == pytest.approx(5000.00)

    completed, rejected = json_logs.events("payment_recorded")
    assert completed["request_id"] == "pay-ops-P1"
    assert completed["status"] == "completed" and completed["amount"] == "150.00"
    assert completed["details"] == [{"loan_external_id": "ops-P-L1", "amount": "150.00"}]
    assert rejected["status"] == "rejected" and rejected["details"] == []
    assert rejected["rejection_reason"]


def test_reversals_and_replays_move_their_counters_and_log_a_line(
    client, anon_client, customer, json_logs
):
    create_loan(client, "ops-R-L1", customer)
    taken_at = (timezone.now() - timedelta(days=30)).isoformat()
    client.post("/api/loans/ops-R-L1/activate", {"taken_at": taken_at}, format="json")
    for external_id, days_ago in (("ops-R1", 3), ("ops-R2", 1)):
        response = client.post(
            "/api/payments",
            {
                "external_id": external_id,
                "customer_external_id": customer,
                "total_amount": "77.00",
                "paid_at": (timezone.now() - timedelta(days=days_ago)).isoformat(),
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
    before = scrape(anon_client)
    late = client.post(
        "/api/payments",
        {
            "external_id": "ops-R0",
            "customer_external_id": customer,
            "total_amount": "50.00",
            "paid_at": (timezone.now() - timedelta(days=10)).isoformat(),
        },
        format="json",
    )
    assert late.status_code == 201, late.json()
    reversed_ = client.post(
        "/api/payments/ops-R1/reverse",
        {"reason": "bounced"},
        format="json",
        HTTP_X_REQUEST_ID="reverse-ops-R1",
    )
    assert reversed_.status_code == 200, reversed_.json()
    after = scrape(anon_client)

    def delta(name, **labels):
        key = (name, frozenset(labels.items()))
        return after.get(key, 0) - before.get(key, 0)

    assert delta("mo_loans_payments_reversed_total") == 1
    assert delta("mo_loans_ledger_replays_total", cause="backdated_payment") == 1
    assert delta("mo_loans_ledger_replays_total", cause="reversal") == 1
    # One loan: every payment's share is its whole amount whatever the order, so the
    # replays rewrite no other payment's row; only the reversed payment's row goes.
    assert delta("mo_loans_ledger_rows_superseded_total") == 1
    (line,) = json_logs.events("payment_reversed")
    assert (line["payment_external_id"], line["reversal_reason"]) == ("ops-R1", "bounced")
    assert line["request_id"] == "reverse-ops-R1"
    replays = json_logs.events("ledger_replayed")
    assert [(r["cause"], r["customer_external_id"]) for r in replays] == [
        ("backdated_payment", customer),
        ("reversal", customer),
    ]
    assert replays[1]["request_id"] == "reverse-ops-R1"
