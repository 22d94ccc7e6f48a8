from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from loans.models import Installment, Loan
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


def create(client, **overrides):
    payload = {
        "external_id": "L1",
        "customer_external_id": "C1",
        "amount": "5000000",
        "interest_rate": "0.10",
        "term_weeks": 50,
    } | overrides
    return client.post("/api/loans", payload, format="json")


@pytest.fixture
def customer():
    return CustomerFactory(external_id="C1", score=Decimal("10000000"))


def days_ago(days: int) -> datetime:
    return timezone.now() - timedelta(days=days)


def test_classic_loan_is_created_pending_with_fifty_instalments(client, customer):
    response = create(client)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == Loan.Status.PENDING
    assert body["total_amount"] == "5500000.00"
    assert body["installment_amount"] == "110000.00"
    assert body["outstanding"] == "5500000.00"
    assert body["customer_external_id"] == "C1"
    assert body["taken_at"] is None and body["maximum_payment_date"] is None
    amounts = list(
        Installment.objects.filter(loan__external_id="L1").values_list("amount", flat=True)
    )
    assert amounts == [Decimal("110000.00")] * 50


def test_rounding_example_puts_the_remainder_on_the_last_instalment(client, customer):
    assert create(client, amount="1000000", term_weeks=3).status_code == 201
    schedule = client.get("/api/loans/L1/schedule").json()
    assert [row["amount"] for row in schedule] == ["366666.66", "366666.66", "366666.68"]


def test_defaults_come_from_settings(client, customer, settings):
    settings.BILLING_DEFAULT_INTEREST_RATE = Decimal("0.20")
    settings.BILLING_DEFAULT_TERM_WEEKS = 10
    response = client.post(
        "/api/loans",
        {"external_id": "D", "customer_external_id": "C1", "amount": "1000"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["interest_rate"], body["term_weeks"], body["total_amount"]) == (
        "0.2000",
        10,
        "1200.00",
    )


def test_credit_line_counts_total_amount_against_available(client, customer):
    # score 10,000,000; the first loan takes 5,500,000 of it.
    assert create(client).status_code == 201
    response = create(client, external_id="L2", amount="4100000")  # total 4,510,000
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "credit_line_exceeded"
    assert body["available_amount"] == "4500000.00"
    assert "4500000.00" in body["message"]
    assert (
        create(client, external_id="L3", amount="4090909.09").status_code == 201
    )  # 4,499,999.999 -> 4,500,000.00
    assert Loan.objects.count() == 2


def test_rejected_loan_frees_the_credit_line(client, customer):
    create(client)
    assert client.post("/api/loans/L1/reject").status_code == 200
    assert create(client, external_id="L2", amount="9000000").status_code == 201


def test_inactive_customer_cannot_borrow(client):
    CustomerFactory(external_id="C1", status=Customer.Status.INACTIVE)
    response = create(client)
    assert response.status_code == 422
    assert response.json()["code"] == "customer_inactive"
    assert not Loan.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"customer_external_id": "nobody"}, "customer_external_id"),
        ({"amount": "0"}, "amount"),
        ({"amount": "-5"}, "amount"),
        ({"amount": "1.234"}, "amount"),
        ({"amount": "NaN"}, "amount"),
        ({"interest_rate": "1.5"}, "interest_rate"),
        ({"interest_rate": "-0.1"}, "interest_rate"),
        ({"term_weeks": 0}, "term_weeks"),
        ({"term_weeks": 521}, "term_weeks"),
        ({"amount": "0.10", "interest_rate": "0", "term_weeks": 11}, "amount"),
        ({"external_id": ""}, "external_id"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_loans_are_400_and_nothing_is_stored(client, customer, overrides, field):
    response = create(client, **overrides)
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Loan.objects.exists()
    assert not Installment.objects.exists()


def test_duplicate_external_id_is_400(client, customer):
    create(client)
    response = create(client, amount="1")
    assert response.status_code == 400
    assert "external_id" in response.json()["fields"]
    assert Loan.objects.count() == 1


@pytest.mark.parametrize("weeks", [1, 520])
def test_creating_a_loan_costs_the_same_queries_whatever_its_term(
    client, customer, django_assert_num_queries, weeks
):
    # api key, savepoint pair (test transaction), customer lock, external id check,
    # credit line sum, loan insert, one bulk insert of the schedule, payments-as-of read.
    with django_assert_num_queries(8):
        response = create(client, amount="5200", term_weeks=weeks)
    assert response.status_code == 201
    assert Installment.objects.count() == weeks


def test_activation_fixes_due_dates_weekly_from_taken_at(client, customer):
    create(client, term_weeks=3, amount="300")
    taken_at = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    response = client.post(
        "/api/loans/L1/activate", {"taken_at": taken_at.isoformat()}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == Loan.Status.ACTIVE
    assert body["maximum_payment_date"] == "2026-03-23"
    schedule = client.get("/api/loans/L1/schedule", {"as_of": "2026-03-01"}).json()
    assert [row["due_date"] for row in schedule] == ["2026-03-09", "2026-03-16", "2026-03-23"]


def test_due_dates_follow_the_local_date_of_taken_at(client, customer, settings):
    settings.TIME_ZONE = "Asia/Jakarta"  # UTC+7: 23:30 UTC is already the next day
    create(client, term_weeks=1, amount="100")
    taken_at = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)
    client.post("/api/loans/L1/activate", {"taken_at": taken_at.isoformat()}, format="json")
    assert Loan.objects.get().maximum_payment_date == date(2026, 3, 10)


def test_activation_defaults_to_now(client, customer):
    create(client, term_weeks=2, amount="100")
    body = client.post("/api/loans/L1/activate").json()
    assert body["maximum_payment_date"] == (timezone.localdate() + timedelta(days=14)).isoformat()


def test_taken_at_in_the_future_is_400(client, customer):
    create(client)
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    response = client.post("/api/loans/L1/activate", {"taken_at": future}, format="json")
    assert response.status_code == 400
    assert "taken_at" in response.json()["fields"]
    assert Loan.objects.get().status == Loan.Status.PENDING


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("activate", "activate"),
        ("activate", "reject"),
        ("reject", "reject"),
        ("reject", "activate"),
    ],
)
def test_invalid_transitions_are_422(client, customer, first, second):
    create(client)
    assert client.post(f"/api/loans/L1/{first}").status_code == 200
    before = Loan.objects.get()
    response = client.post(f"/api/loans/L1/{second}")
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_state"
    after = Loan.objects.get()
    assert (after.status, after.outstanding) == (before.status, before.outstanding)


def test_reject_zeroes_the_outstanding(client, customer):
    create(client)
    body = client.post("/api/loans/L1/reject/").json()
    assert (body["status"], body["outstanding"]) == (Loan.Status.REJECTED, "0.00")


def test_unknown_loan_is_404(client):
    for path in ("/api/loans/nope", "/api/loans/nope/schedule"):
        assert client.get(path).status_code == 404
    assert client.post("/api/loans/nope/activate").status_code == 404


def test_pending_schedule_projects_due_dates_from_today(client, customer):
    create(client, term_weeks=2, amount="100")
    rows = client.get("/api/loans/L1/schedule").json()
    today = timezone.localdate()
    assert [r["due_date"] for r in rows] == [
        (today + timedelta(days=7)).isoformat(),
        (today + timedelta(days=14)).isoformat(),
    ]
    assert {r["status"] for r in rows} == {"due"}


class TestDelinquency:
    """Billing state as of a date, for a loan taken 30 days ago (due at 7, 14, 21, 28 days)."""

    @pytest.fixture
    def loan(self, customer):
        return make_loan(customer=customer, external_id="L1", taken_at=days_ago(30))

    def state(self, client, as_of=None):
        params = {"as_of": as_of.isoformat()} if as_of else {}
        return client.get("/api/loans/L1", params).json()

    def test_as_of_today_four_missed_instalments(self, client, loan):
        body = self.state(client)
        assert body["missed_installments"] == 4
        assert body["is_delinquent"] is True
        assert body["days_past_due"] == 23
        assert body["overdue_amount"] == "440000.00"
        assert body["outstanding"] == "5500000.00"
        assert body["paid_amount"] == "0.00"

    def test_as_of_before_and_after_a_due_date(self, client, loan):
        first_due = loan.maximum_payment_date - timedelta(weeks=49)
        on_due = self.state(client, first_due)
        assert (on_due["missed_installments"], on_due["is_delinquent"]) == (0, False)
        after_first = self.state(client, first_due + timedelta(days=1))
        assert (after_first["missed_installments"], after_first["days_past_due"]) == (1, 1)
        assert after_first["is_delinquent"] is False
        after_second = self.state(client, first_due + timedelta(days=8))
        assert (after_second["missed_installments"], after_second["is_delinquent"]) == (2, True)
        assert after_second["days_past_due"] == 8

    def test_schedule_statuses_as_of(self, client, loan):
        first_due = loan.maximum_payment_date - timedelta(weeks=49)
        rows = client.get(
            "/api/loans/L1/schedule", {"as_of": (first_due + timedelta(days=1)).isoformat()}
        ).json()
        assert len(rows) == 50
        assert [r["status"] for r in rows[:3]] == ["missed", "due", "due"]
        assert rows[0] == {
            "number": 1,
            "due_date": first_due.isoformat(),
            "amount": "110000.00",
            "paid_amount": "0.00",
            "status": "missed",
        }

    def test_delinquent_filter_on_loans_and_customers(self, client, loan):
        healthy = CustomerFactory(external_id="C2")
        make_loan(customer=healthy, external_id="fresh", taken_at=days_ago(1))
        make_loan(customer=healthy, external_id="pending", amount="1000")
        listed = client.get("/api/loans", {"delinquent": "true"}).json()
        assert [row["external_id"] for row in listed["results"]] == ["L1"]
        not_listed = client.get("/api/loans?delinquent=false").json()
        assert {row["external_id"] for row in not_listed["results"]} == {"fresh", "pending"}
        long_ago = (timezone.localdate() - timedelta(days=20)).isoformat()
        assert (
            client.get("/api/loans", {"delinquent": "true", "as_of": long_ago}).json()["count"] == 0
        )
        customers = client.get("/api/customers", {"delinquent": "true"}).json()
        assert [c["external_id"] for c in customers["results"]] == ["C1"]
        others = client.get("/api/customers", {"delinquent": "false"}).json()
        assert [c["external_id"] for c in others["results"]] == ["C2"]

    def test_bad_delinquent_or_as_of_is_400(self, client, loan):
        assert client.get("/api/loans?delinquent=maybe").status_code == 400
        assert client.get("/api/loans?delinquent=true&as_of=yesterday").status_code == 400
        response = client.get("/api/loans/L1?as_of=2026-02-30")
        assert response.status_code == 400
        assert "as_of" in response.json()["fields"]

    def test_customer_balance_and_delinquency(self, client, loan):
        body = client.get("/api/customers/C1/balance").json()
        assert body == {
            "external_id": "C1",
            "score": "10000000.00",
            "total_debt": "5500000.00",
            "available_amount": "4500000.00",
            "is_delinquent": True,
            "as_of": timezone.localdate().isoformat(),
        }
        long_ago = (timezone.localdate() - timedelta(days=20)).isoformat()
        assert (
            client.get(f"/api/customers/C1/balance?as_of={long_ago}").json()["is_delinquent"]
            is False
        )


def test_balance_list_counts_pending_and_active_loans(client):
    rich = CustomerFactory(external_id="rich", score=Decimal("100000"))
    CustomerFactory(external_id="none", score=Decimal("5"))
    make_loan(customer=rich, external_id="a", amount="1000", interest_rate="0.1", term_weeks=10)
    make_loan(
        customer=rich,
        external_id="b",
        amount="2000",
        interest_rate="0",
        term_weeks=10,
        taken_at=days_ago(1),
    )
    rejected = make_loan(
        customer=rich, external_id="c", amount="500", interest_rate="0", term_weeks=10
    )
    client.post(f"/api/loans/{rejected.external_id}/reject")
    body = client.get("/api/customers/balance").json()
    assert body["count"] == 2
    assert body["results"] == [
        {
            "external_id": "rich",
            "score": "100000.00",
            "total_debt": "3100.00",
            "available_amount": "96900.00",
        },
        {"external_id": "none", "score": "5.00", "total_debt": "0.00", "available_amount": "5.00"},
    ]
    only = client.get("/api/customers/balance/?external_id=none").json()
    assert [r["external_id"] for r in only["results"]] == ["none"]


def test_available_amount_is_never_negative(client):
    customer = CustomerFactory(external_id="x", score=Decimal("2000"))
    make_loan(
        customer=customer, external_id="big", amount="1000", interest_rate="0.5", term_weeks=5
    )
    client.patch("/api/customers/x", {"score": "100"}, format="json")
    assert client.get("/api/customers/x/balance").json()["available_amount"] == "0.00"
    row = client.get("/api/customers/balance?external_id=x").json()["results"][0]
    assert row["available_amount"] == "0.00"


def test_customer_loans_lists_only_that_customers_loans(client, customer):
    make_loan(customer=customer, external_id="mine")
    make_loan(customer=CustomerFactory(), external_id="theirs")
    body = client.get("/api/customers/C1/loans").json()
    assert [row["external_id"] for row in body["results"]] == ["mine"]
    assert client.get("/api/customers/ghost/loans").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/loans?page_size={n}",
        "/api/loans?delinquent=true&page_size={n}",
        "/api/customers/balance?page_size={n}",
        "/api/customers?delinquent=true&page_size={n}",
        "/api/customers/C0/loans?page_size={n}",
    ],
)
def test_lists_cost_a_constant_number_of_queries(client, django_assert_num_queries, path):
    owner = CustomerFactory(external_id="C0", score=Decimal("1000000000"))
    for i in range(12):
        make_loan(
            customer=owner, external_id=f"l{i}", amount="100", term_weeks=4, taken_at=days_ago(40)
        )
    counts = []
    for n in (1, 10):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as ctx:
            response = client.get(path.format(n=n))
        assert response.status_code == 200
        assert len(response.json()["results"]) >= 1
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] <= 4


def test_reject_refuses_body_fields_and_changes_nothing(client, customer):
    create(client)
    response = client.post(
        "/api/loans/L1/reject", {"taken_at": "2026-01-01T00:00:00Z"}, format="json"
    )
    assert response.status_code == 400
    assert "taken_at" in response.json()["fields"]
    assert Loan.objects.get().status == Loan.Status.PENDING
    assert client.post("/api/loans/L1/reject", {}, format="json").status_code == 200


@pytest.mark.parametrize("clock", ["", "&as_of={past}", "&known_at={now}"])
def test_include_state_adds_each_loans_state_in_a_constant_number_of_queries(client, clock):
    from urllib.parse import quote

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loans import selectors
    from payments.services import payment_make

    owner = CustomerFactory(external_id="C0", score=Decimal("1000000000"))
    for i in range(12):
        make_loan(
            customer=owner, external_id=f"s{i}", amount="100", term_weeks=4, taken_at=days_ago(40)
        )
    payment_make(
        external_id="pay",
        customer_external_id="C0",
        total_amount=Decimal("150"),
        paid_at=days_ago(20),
    )
    clock = clock.format(
        past=(timezone.localdate() - timedelta(days=10)).isoformat(),
        now=quote(timezone.now().isoformat()),
    )
    counts = []
    for n in (2, 12):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"/api/loans?include=state&page_size={n}{clock}")
        assert response.status_code == 200, response.json()
        counts.append(len(ctx.captured_queries))
        for item in response.json()["results"]:
            loan = Loan.objects.get(external_id=item["external_id"])
            params = dict(p.split("=", 1) for p in clock.lstrip("&").split("&") if p)
            as_of = params.get("as_of")
            state = selectors.loan_billing_state(
                loan=loan,
                as_of=date.fromisoformat(as_of) if as_of else None,
                known_at=timezone.now() if "known_at" in params else None,
            )
            assert (
                item["outstanding"],
                item["missed_installments"],
                item["days_past_due"],
                item["is_delinquent"],
            ) == (
                f"{state.outstanding:.2f}",
                state.missed_installments,
                state.days_past_due,
                state.is_delinquent,
            ), item["external_id"]
            assert item["delinquency_bucket"] is not None
    assert counts[0] == counts[1]
    plain = client.get("/api/loans?page_size=2").json()["results"][0]
    assert "missed_installments" not in plain


def test_a_balance_reads_the_customer_and_its_loans_in_one_query(client, django_assert_num_queries):
    rich = CustomerFactory(external_id="rich", score=Decimal("100000"))
    CustomerFactory(external_id="none", score=Decimal("5"))
    make_loan(customer=rich, external_id="a", amount="1000", interest_rate="0.1", term_weeks=10)
    make_loan(customer=rich, external_id="b", amount="2000", interest_rate="0", term_weeks=10)
    # The API key check, then the loans with their customer.
    with django_assert_num_queries(2):
        body = client.get("/api/customers/rich/balance").json()
    assert body["total_debt"] == "3100.00"
    assert body["available_amount"] == "96900.00"
    # A customer with no loan: the loans, then the customer alone.
    with django_assert_num_queries(3):
        body = client.get("/api/customers/none/balance").json()
    assert body["total_debt"] == "0.00"
    assert body["available_amount"] == "5.00"
    # Unknown, or not created yet as known at an earlier instant: 404 either way.
    assert client.get("/api/customers/nobody/balance").status_code == 404
    before = (rich.created_at - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert client.get("/api/customers/rich/balance", {"known_at": before}).status_code == 404
