"""GET /api/portfolio, the loan list's bucket filters and GET /api/loans/{id}/delinquency,
over random portfolios, against the plain-Python figures of billing/portfolio.py."""

import random
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from billing.arrears import arrears_periods
from billing.buckets import bucket_for, parse_buckets
from billing.portfolio import (
    PortfolioLoan,
    ScheduledLoan,
    collection_figures,
    outstanding_principal,
    portfolio_figures,
)
from billing.state import loan_state
from loans.models import Loan
from payments.models import PaymentDetail
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")


def pay(monkeypatch, *, at, external_id, customer, total_amount, loan=None):
    """A payment received at ``at`` (in the past), posted now with that value date."""
    return payment_make(
        external_id=external_id,
        customer_external_id=customer,
        total_amount=total_amount,
        loan_external_id=loan,
        paid_at=at,
    )


def random_portfolio(monkeypatch, seed: int, loans: int = 40, *, back_dated=False) -> None:
    """Customers with loans taken up to 300 days ago and payments received since, late,
    early, partial or in full, for one loan or spread over the customer's loans.

    ``back_dated``: the payments are recorded in a random order, so many are
    recorded after payments with a later value date."""
    rng = random.Random(seed)
    now = timezone.now()
    customers = [CustomerFactory(score=Decimal("999999999999")) for _ in range(8)]
    taken = []
    for i in range(loans):
        customer = rng.choice(customers)
        taken_at = None
        if rng.random() < 0.9:
            taken_at = now - timedelta(days=rng.randint(0, 300), minutes=rng.randint(0, 1440))
        loan = make_loan(
            customer=customer,
            external_id=f"{seed}-L{i}",
            amount=str(Decimal(rng.randint(10_000, 50_000_000)) / 100),
            interest_rate=rng.choice(["0", "0.10", "0.1234", "0.5"]),
            term_weeks=rng.choice([1, 2, 4, 10, 26, 50]),
            taken_at=taken_at,
        )
        if taken_at is None and rng.random() < 0.5:
            from loans.services import loan_reject

            loan_reject(external_id=loan.external_id)
        elif taken_at is not None:
            taken.append((taken_at, loan, customer))
    events = []
    for taken_at, loan, customer in taken:
        for _ in range(rng.choice([0, 1, 2, 4, 8])):
            span = max(1, int((now - taken_at).total_seconds()))
            events.append((taken_at + timedelta(seconds=rng.randint(1, span)), loan, customer))
    events.sort(key=lambda event: event[0])
    if back_dated:
        rng.shuffle(events)
    for n, (at, loan, customer) in enumerate(events):
        loan.refresh_from_db()
        if loan.outstanding == 0:
            continue
        share = Decimal(rng.choice([0.05, 0.2, 0.5, 1]))
        amount = max(CENT, (loan.installment_amount * share * rng.randint(1, 6)).quantize(CENT))
        spread = rng.random() < 0.3
        if not spread:
            amount = min(amount, loan.outstanding)
        pay(
            monkeypatch,
            at=at,
            external_id=f"{seed}-P{n}",
            customer=customer.external_id,
            total_amount=amount,
            loan=None if spread else loan.external_id,
        )


def ledger():
    """Every loan and what was paid to it, as plain values, straight from the tables."""
    payments = {}
    for loan_id, paid_at, amount in PaymentDetail.current.order_by("paid_at", "id").values_list(
        "loan_id", "paid_at", "amount"
    ):
        payments.setdefault(loan_id, []).append((timezone.localdate(paid_at), amount))
    loans = list(Loan.objects.select_related("customer").order_by("id"))
    return loans, payments


def reference(as_of: date, buckets=None):
    loans, payments = ledger()
    rows = []
    for loan in loans:
        activated = loan.status in (Loan.Status.ACTIVE, Loan.Status.PAID)
        paid = sum((a for day, a in payments.get(loan.id, []) if day <= as_of), Decimal(0))
        rows.append(
            PortfolioLoan(
                loan.customer_id, loan.terms, loan.start_date if activated else None, paid
            )
        )
    kwargs = {} if buckets is None else {"buckets": buckets}
    return portfolio_figures(loans=rows, as_of=as_of, **kwargs)


def reference_collection(period_from: date, period_to: date):
    loans, payments = ledger()
    scheduled = [
        ScheduledLoan(loan.terms, loan.start_date, payments.get(loan.id, []))
        for loan in loans
        if loan.status in (Loan.Status.ACTIVE, Loan.Status.PAID)
    ]
    return collection_figures(loans=scheduled, period_from=period_from, period_to=period_to)


def money(value: Decimal) -> str:
    return f"{value:.2f}"


def expected_body(figures, collection=None, period=(None, None)):
    body = {
        "as_of": figures.as_of.isoformat(),
        "active_loans": figures.active_loans,
        "gross_outstanding": money(figures.gross_outstanding),
        "outstanding_principal": money(figures.outstanding_principal),
        "par": figures.par,
        "buckets": [
            {
                "bucket": b.bucket,
                "loans": b.loans,
                "outstanding": money(b.outstanding),
                "outstanding_principal": money(b.outstanding_principal),
            }
            for b in figures.buckets
        ],
        "delinquent_loans": figures.delinquent_loans,
        "delinquent_customers": figures.delinquent_customers,
        "from": period[0] and period[0].isoformat(),
        "to": period[1] and period[1].isoformat(),
        "due_amount": None,
        "collected_on_time": None,
        "collected_in_period": None,
        "on_time_rate": None,
    }
    if collection is not None:
        body |= {
            "due_amount": money(collection.due_amount),
            "collected_on_time": money(collection.collected_on_time),
            "collected_in_period": money(collection.collected_in_period),
            "on_time_rate": collection.on_time_rate,
        }
    return body


AS_OF_DAYS = [-400, -200, -90, -60, -30, -7, -1, 0, 30]


@pytest.mark.parametrize(("seed", "back_dated"), [(1, False), (2, False), (3, True)])
def test_every_portfolio_figure_equals_the_reference(client, monkeypatch, seed, back_dated):
    random_portfolio(monkeypatch, seed, back_dated=back_dated)
    today = timezone.localdate()
    for offset in AS_OF_DAYS:
        as_of = today + timedelta(days=offset)
        response = client.get("/api/portfolio", {"as_of": as_of.isoformat()})
        assert response.status_code == 200, response.json()
        assert response.json() == expected_body(reference(as_of)), as_of


@pytest.mark.parametrize(("seed", "back_dated"), [(4, False), (5, True)])
def test_collection_figures_equal_the_reference(client, monkeypatch, seed, back_dated):
    random_portfolio(monkeypatch, seed, back_dated=back_dated)
    today = timezone.localdate()
    periods = [(-6, 0), (-13, -7), (-90, -30), (-300, 0), (-1, -1), (-1000, -400)]
    for start, end in periods:
        period = (today + timedelta(days=start), today + timedelta(days=end))
        response = client.get(
            "/api/portfolio", {"from": period[0].isoformat(), "to": period[1].isoformat()}
        )
        assert response.status_code == 200, response.json()
        expected = expected_body(reference(today), reference_collection(*period), period)
        assert response.json() == expected, period
    assert response.json()["due_amount"] == "0.00"  # the last period is before every loan


def test_figures_follow_the_local_day_of_a_non_utc_time_zone(client, monkeypatch, settings):
    settings.TIME_ZONE = "Asia/Jakarta"
    random_portfolio(monkeypatch, 6, loans=25)
    today = timezone.localdate()
    for offset in (-60, -3, 0):
        as_of = today + timedelta(days=offset)
        response = client.get("/api/portfolio", {"as_of": as_of.isoformat()})
        assert response.json() == expected_body(reference(as_of)), as_of
    period = (today - timedelta(days=20), today - timedelta(days=1))
    response = client.get(
        "/api/portfolio", {"from": period[0].isoformat(), "to": period[1].isoformat()}
    )
    assert response.json() == expected_body(reference(today), reference_collection(*period), period)


def test_configured_buckets_are_used(client, monkeypatch, settings):
    settings.BILLING_DPD_BUCKETS = "1-3,4-"
    random_portfolio(monkeypatch, 7, loans=20)
    as_of = timezone.localdate() - timedelta(days=10)
    body = client.get("/api/portfolio", {"as_of": as_of.isoformat()}).json()
    assert [b["bucket"] for b in body["buckets"]] == ["current", "1-3", "4-"]
    assert body == expected_body(reference(as_of, buckets=parse_buckets("1-3,4-")))


def test_a_worked_example(client, monkeypatch):
    """The example of docs/billing.md, "Portfolio risk", end to end."""
    today = timezone.localdate()
    start = today - timedelta(days=35)  # 5 instalments due before today… 4 before the 5th's day
    taken_at = timezone.now() - timedelta(days=35)
    ana, ben = CustomerFactory(external_id="ana"), CustomerFactory(external_id="ben")
    for external_id, customer in (("on-time", ana), ("late", ana), ("very-late", ben)):
        make_loan(
            customer=customer,
            external_id=external_id,
            amount="1000",
            interest_rate="0.10",
            term_weeks=10,
            taken_at=taken_at,
        )
    assert Loan.objects.get(external_id="late").start_date == start
    # Four instalments (due before today) paid, three, and none.
    for external_id, amount in (("on-time", "440"), ("late", "330")):
        pay(
            monkeypatch,
            at=taken_at + timedelta(days=1),
            external_id=f"p-{external_id}",
            customer="ana",
            total_amount=Decimal(amount),
            loan=external_id,
        )
    body = client.get("/api/portfolio").json()
    assert body["active_loans"] == 3
    assert body["gross_outstanding"] == "2530.00"  # 660 + 770 + 1100
    assert body["outstanding_principal"] == "2300.00"  # 600 + 700 + 1000
    # late: oldest missed is #4, due 7 days ago; very-late: #1, due 28 days ago.
    assert body["par"] == {"1": "0.7391", "7": "0.4348", "30": "0.0000", "90": "0.0000"}
    assert [(b["bucket"], b["loans"]) for b in body["buckets"]] == [
        ("current", 1),
        ("1-7", 1),
        ("8-30", 1),
        ("31-60", 0),
        ("61-90", 0),
        ("91-", 0),
    ]
    assert (body["delinquent_loans"], body["delinquent_customers"]) == (1, 1)
    listed = client.get("/api/loans", {"bucket": "8-30"}).json()["results"]
    assert [loan["external_id"] for loan in listed] == ["very-late"]


def test_the_portfolio_is_a_few_queries_whatever_its_size(
    client, monkeypatch, django_assert_num_queries
):
    from loans.closing import portfolio_close

    random_portfolio(monkeypatch, 8, loans=15)
    day = timezone.localdate() - timedelta(days=30)
    past = day.isoformat()
    # The API key, the day's closes (none yet) and the figures; with a period, the
    # figures as of today (never closed) and the period's closes and collection.
    with django_assert_num_queries(3):
        assert client.get("/api/portfolio", {"as_of": past}).status_code == 200
    with django_assert_num_queries(4):
        assert client.get("/api/portfolio", {"from": past, "to": past}).status_code == 200
    # Closed, then changed: the close, and its correction in one statement.
    portfolio_close(days=[day], known_at=timezone.now())
    random_portfolio(monkeypatch, 13, loans=15)
    with django_assert_num_queries(3):
        assert client.get("/api/portfolio", {"as_of": past}).status_code == 200
    with django_assert_num_queries(4):
        assert client.get("/api/portfolio", {"from": past, "to": past}).status_code == 200


# --- the loan list's filters -----------------------------------------------------------


def dpd_reference(as_of: date):
    """external_id -> days past due, for the loans active as of ``as_of``."""
    loans, payments = ledger()
    result = {}
    for loan in loans:
        if loan.status not in (Loan.Status.ACTIVE, Loan.Status.PAID):
            continue
        start = loan.start_date
        paid = sum((a for day, a in payments.get(loan.id, []) if day <= as_of), Decimal(0))
        if start > as_of or paid >= loan.total_amount:
            continue
        state = loan_state(terms=loan.terms, start=start, paid=paid, as_of=as_of)
        result[loan.external_id] = state.days_past_due
    return result


def listed(client, **params):
    response = client.get("/api/loans", {"page_size": 1000, **params})
    assert response.status_code == 200, response.json()
    return {loan["external_id"] for loan in response.json()["results"]}


@pytest.mark.parametrize("seed", [9, 10])
def test_bucket_and_dpd_filters_select_the_reference_loans(client, monkeypatch, seed):
    random_portfolio(monkeypatch, seed)
    today = timezone.localdate()
    for offset in (-60, -1, 0):
        as_of = today + timedelta(days=offset)
        dpd = dpd_reference(as_of)
        for name in ("current", "1-7", "8-30", "31-60", "61-90", "91-"):
            expected = {loan for loan, days in dpd.items() if bucket_for(days) == name}
            assert listed(client, bucket=name, as_of=as_of.isoformat()) == expected, name
        for low, high in ((0, 0), (1, 30), (5, None), (None, 14), (31, 31)):
            params = {"as_of": as_of.isoformat()}
            params |= {"dpd_min": low} if low is not None else {}
            params |= {"dpd_max": high} if high is not None else {}
            expected = {
                loan
                for loan, days in dpd.items()
                if (low is None or days >= low) and (high is None or days <= high)
            }
            assert listed(client, **params) == expected, (low, high)
        both = {loan for loan, days in dpd.items() if 8 <= days <= 20}
        assert listed(client, bucket="8-30", dpd_max=20, as_of=as_of.isoformat()) == both


# --- arrears history -----------------------------------------------------------------


def test_delinquency_lists_the_arrears_periods(client, monkeypatch):
    taken_at = timezone.now() - timedelta(days=70)
    customer = CustomerFactory(external_id="c")
    loan = make_loan(
        customer=customer,
        external_id="L",
        amount="1000",
        interest_rate="0",
        term_weeks=10,
        taken_at=taken_at,
    )
    start = loan.start_date
    # Nothing until day 24 (instalments 1-3 due days 7, 14, 21), then all three at once.
    pay(
        monkeypatch,
        at=taken_at + timedelta(days=24),
        external_id="p1",
        customer="c",
        total_amount=Decimal("300"),
    )
    body = client.get("/api/loans/L/delinquency").json()
    cured = start + timedelta(days=24)
    assert body[0] == {
        "from": (start + timedelta(days=8)).isoformat(),
        "to": cured.isoformat(),
        "max_days_past_due": 16,
        "max_missed_installments": 3,
        "delinquent": True,
    }
    # Since then nothing more: instalment 4 (day 28) missed from day 29, still open.
    assert body[1]["from"] == (start + timedelta(days=29)).isoformat()
    assert body[1]["to"] is None
    assert len(body) == 2
    # As of the day before the cure, the first period was still open.
    before = client.get("/api/loans/L/delinquency", {"as_of": (cured - timedelta(1)).isoformat()})
    assert before.json() == [body[0] | {"to": None}]  # day 23 was its 16th day past due


@pytest.mark.parametrize("seed", [11])
def test_delinquency_of_random_loans_matches_billing(client, monkeypatch, seed):
    random_portfolio(monkeypatch, seed, loans=20)
    loans, payments = ledger()
    today = timezone.localdate()
    for loan in loans:
        body = client.get(f"/api/loans/{loan.external_id}/delinquency").json()
        if loan.status not in (Loan.Status.ACTIVE, Loan.Status.PAID):
            assert body == []
            continue
        expected = arrears_periods(
            terms=loan.terms,
            start=loan.start_date,
            payments=payments.get(loan.id, []),
            up_to=today,
        )
        assert body == [
            {
                "from": p.start.isoformat(),
                "to": p.end and p.end.isoformat(),
                "max_days_past_due": p.max_days_past_due,
                "max_missed_installments": p.max_missed_installments,
                "delinquent": p.delinquent,
            }
            for p in expected
        ]


def test_delinquency_of_an_unknown_loan_is_404(client):
    response = client.get("/api/loans/nope/delinquency")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "code", "field", "words"),
    [
        ({"from": "2026-02-01", "to": "2026-01-01"}, "invalid_period", "from", "is after"),
        ({"from": "2026-01-01"}, "invalid_period", "to", "both"),
        ({"to": "2026-01-01"}, "invalid_period", "from", "both"),
        ({"from": "2020-01-01", "to": "2023-01-01"}, "period_too_long", "to", "3 years"),
        (
            {"from": "2020-01-01", "to": "2020-02-01", "as_of": "2020-01-31"},
            "period_after_as_of",
            "to",
            "after `as_of`",
        ),
        ({"as_of": "yesterday"}, "invalid", "as_of", "Date has wrong format"),
        ({"colour": "red"}, "invalid", "colour", "Unknown field"),
    ],
)
def test_bad_portfolio_queries_are_400_with_a_clear_message(client, params, code, field, words):
    response = client.get("/api/portfolio", params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert words in " ".join(body["fields"][field])


def test_a_period_of_just_under_3_years_is_allowed(client):
    response = client.get("/api/portfolio", {"from": "2020-01-01", "to": "2022-12-31"})
    assert response.status_code == 200
    assert response.json()["due_amount"] == "0.00"


def test_extreme_dates_are_answered(client):
    for params in (
        {"as_of": "0001-01-01"},
        {"as_of": "9999-12-31"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"from": "9999-12-30", "to": "9999-12-31", "as_of": "9999-12-31"},
    ):
        assert client.get("/api/portfolio", params).status_code == 200, params
    assert client.get("/api/loans", {"bucket": "91-", "as_of": "9999-12-31"}).status_code == 200


def test_an_unknown_bucket_is_400_listing_the_valid_ones(client):
    response = client.get("/api/loans", {"bucket": "9-12"})
    assert response.status_code == 400
    (message,) = response.json()["fields"]["bucket"]
    assert message == (
        "Unknown bucket '9-12'. The buckets are: current, 1-7, 8-30, 31-60, 61-90, 91-."
    )


def test_dpd_min_above_dpd_max_is_400(client):
    response = client.get("/api/loans", {"dpd_min": 10, "dpd_max": 3})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_dpd_range"
    assert "dpd_min (10) must not be greater than dpd_max (3)" in response.json()["message"]
    for params in ({"dpd_min": -1}, {"dpd_max": "x"}, {"dpd_min": ""}):
        assert client.get("/api/loans", params).status_code == 400, params


def test_outstanding_principal_rounds_each_loan_half_up(client, monkeypatch):
    """0.01 owed on a loan of 1.00 with total 2.00 is 0.005 of principal: 0.01, not 0.00."""
    customer = CustomerFactory(external_id="tiny")
    taken_at = timezone.now() - timedelta(days=1)
    make_loan(
        customer=customer,
        external_id="t",
        amount="1",
        interest_rate="1",
        term_weeks=1,
        taken_at=taken_at,
    )
    pay(monkeypatch, at=taken_at, external_id="tp", customer="tiny", total_amount=Decimal("1.99"))
    body = client.get("/api/portfolio").json()
    assert body["gross_outstanding"] == "0.01"
    assert body["outstanding_principal"] == money(
        outstanding_principal(
            outstanding=Decimal("0.01"), amount=Decimal("1"), total_amount=Decimal("2")
        )
    )
    assert body["outstanding_principal"] == "0.01"
    assert asdict(reference(timezone.localdate()))["outstanding_principal"] == Decimal("0.01")


def test_routes_answer_with_or_without_a_trailing_slash(client):
    make_loan(external_id="slash", taken_at=timezone.now())
    for path in ("/api/portfolio", "/api/portfolio/", "/api/loans/slash/delinquency/"):
        assert client.get(path).status_code == 200, path


def test_delinquency_bucket_follows_the_setting(settings):
    from loans.portfolio import delinquency_bucket

    assert [delinquency_bucket(days_past_due=d) for d in (0, 7, 8, 400)] == [
        "current",
        "1-7",
        "8-30",
        "91-",
    ]
    settings.BILLING_DPD_BUCKETS = "1-29,30-"
    assert delinquency_bucket(days_past_due=30) == "30-"


@pytest.mark.parametrize("seed", [12])
def test_several_dates_at_once_equal_one_date_at_a_time(monkeypatch, seed):
    from loans.portfolio import portfolio_as_of, portfolio_as_of_dates

    random_portfolio(monkeypatch, seed, loans=30)
    today = timezone.localdate()
    dates = [today - timedelta(weeks=back) for back in range(11, -1, -1)]
    dates += [today + timedelta(days=3), today - timedelta(days=500)]
    together = portfolio_as_of_dates(dates=dates)
    assert together == [portfolio_as_of(as_of=day) for day in dates]
    assert together == [reference(day) for day in dates]
