"""Closed days (loans/closing.py): a read of a closed day gives the answer computed from the
ledger, after back-dated payments, reversals and back-dated activations recorded since."""

import random
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.db.models import F
from django.utils import timezone

from billing.buckets import bucket_for
from loans import portfolio
from loans.closing import days_to_close, portfolio_close
from loans.models import Loan, PortfolioClose, PortfolioCloseBand
from mo_loans.core.exceptions import BusinessRuleError, InvalidInputError
from payments.models import Payment
from payments.services import payment_reverse
from tests.factories import CustomerFactory, make_loan
from tests.loans.test_portfolio_api import (
    dpd_reference,
    expected_body,
    listed,
    pay,
    random_portfolio,
    reference,
    reference_collection,
)

pytestmark = pytest.mark.django_db

AS_OF_DAYS = [-200, -90, -60, -30, -8, -7, -2, -1]
PERIODS = [(-6, 0), (-13, -7), (-90, -30), (-1, -1), (-66, -60)]


def close_all(days_back=210):
    today = timezone.localdate()
    return portfolio_close(
        days=[today - timedelta(days=n) for n in range(1, days_back)], known_at=timezone.now()
    )


def later_changes(monkeypatch, seed):
    """What the ledger learns after the close: back-dated payments, reversals of old
    payments and a loan activated with a past taken_at, for old and new customers."""
    rng = random.Random(seed)
    now = timezone.now()
    loans = list(Loan.objects.filter(status=Loan.Status.ACTIVE).select_related("customer"))
    for n, loan in enumerate(rng.sample(loans, min(6, len(loans)))):
        days = rng.randint(1, max(1, (now - loan.taken_at).days))
        pay(
            monkeypatch,
            at=now - timedelta(days=days),
            external_id=f"late-{seed}-{n}",
            customer=loan.customer.external_id,
            total_amount=min(loan.outstanding, loan.installment_amount * rng.randint(1, 3)),
            loan=loan.external_id,
        )
    completed = list(Payment.objects.filter(status=Payment.Status.COMPLETED).order_by("id"))
    for payment in rng.sample(completed, min(3, len(completed))):
        payment_reverse(external_id=payment.external_id, reason="bounced")
    customer = CustomerFactory(score=Decimal("999999999"))
    make_loan(
        customer=customer,
        external_id=f"back-dated-{seed}",
        amount="1000.00",
        taken_at=now - timedelta(days=75),
    )


def api_answers(client, today):
    answers = {}
    for offset in AS_OF_DAYS:
        as_of = (today + timedelta(days=offset)).isoformat()
        answers[as_of] = client.get("/api/portfolio", {"as_of": as_of}).json()
    for start, end in PERIODS:
        period = {
            "from": (today + timedelta(days=start)).isoformat(),
            "to": (today + timedelta(days=end)).isoformat(),
        }
        answers[str(period)] = client.get("/api/portfolio", period).json()
    return answers


def expected_answers(today):
    expected = {}
    for offset in AS_OF_DAYS:
        as_of = today + timedelta(days=offset)
        expected[as_of.isoformat()] = expected_body(reference(as_of))
    for start, end in PERIODS:
        period = (today + timedelta(days=start), today + timedelta(days=end))
        key = str({"from": period[0].isoformat(), "to": period[1].isoformat()})
        expected[key] = expected_body(reference(today), reference_collection(*period), period)
    return expected


@pytest.mark.parametrize(("seed", "back_dated"), [(21, False), (22, True)])
def test_closed_days_answer_as_the_ledger_does_after_later_changes(
    client, monkeypatch, seed, back_dated
):
    random_portfolio(monkeypatch, seed, back_dated=back_dated)
    today = timezone.localdate()
    close_all()
    assert api_answers(client, today) == expected_answers(today)
    later_changes(monkeypatch, seed)
    assert api_answers(client, today) == expected_answers(today)


@pytest.mark.parametrize("seed", [29, 30])
def test_the_bucket_filters_of_a_closed_day_select_the_reference_loans(client, monkeypatch, seed):
    random_portfolio(monkeypatch, seed, back_dated=seed % 2 == 0)
    today = timezone.localdate()
    days = [today - timedelta(days=n) for n in (1, 20, 45, 90)]
    portfolio_close(days=days, known_at=timezone.now())
    later_changes(monkeypatch, seed)
    for as_of in days:
        dpd = dpd_reference(as_of)
        for name in ("current", "1-7", "8-30", "31-60", "61-90", "91-"):
            expected = {loan for loan, days in dpd.items() if bucket_for(days) == name}
            assert listed(client, bucket=name, as_of=as_of.isoformat()) == expected, name
        for low, high in ((1, None), (3, 40), (15, 15), (0, 10)):
            params = {"as_of": as_of.isoformat(), "dpd_min": low}
            params |= {"dpd_max": high} if high is not None else {}
            expected = {
                loan for loan, days in dpd.items() if days >= low and (high is None or days <= high)
            }
            assert listed(client, **params) == expected, (as_of, low, high)


def test_a_closed_days_late_loans_are_what_the_filter_reads(client, monkeypatch):
    random_portfolio(monkeypatch, 31)
    day = timezone.localdate() - timedelta(days=15)
    (close,) = portfolio_close(days=[day], known_at=timezone.now())
    band = PortfolioCloseBand.objects.filter(close=close, days_past_due__gt=0).first()
    on_time = Loan.objects.exclude(id__in=band.loan_ids).first()
    PortfolioCloseBand.objects.filter(id=band.id).update(
        loans=band.loans + 1, loan_ids=[*band.loan_ids, on_time.id]
    )
    assert on_time.external_id in listed(client, dpd_min=1, as_of=day.isoformat())


def test_a_close_is_what_is_read(client, monkeypatch):
    """Change a stored close behind the service's back: the answer shows it, so a read of
    a closed day does come from its close."""
    random_portfolio(monkeypatch, 23)
    day = timezone.localdate() - timedelta(days=30)
    before = client.get("/api/portfolio", {"as_of": day.isoformat()}).json()
    (close,) = portfolio_close(days=[day], known_at=timezone.now())
    assert client.get("/api/portfolio", {"as_of": day.isoformat()}).json() == before
    band = PortfolioCloseBand.objects.filter(close=close).order_by("id").first()
    PortfolioCloseBand.objects.filter(id=band.id).update(outstanding=F("outstanding") + 1000)
    after = client.get("/api/portfolio", {"as_of": day.isoformat()}).json()
    gross = Decimal(before["gross_outstanding"]) + 1000
    assert Decimal(after["gross_outstanding"]) == gross


def test_a_read_known_before_the_close_does_not_use_it(monkeypatch):
    random_portfolio(monkeypatch, 24, loans=20)
    day = timezone.localdate() - timedelta(days=20)
    early = timezone.now()
    later_changes(monkeypatch, 24)
    (close,) = portfolio_close(days=[day], known_at=timezone.now())
    PortfolioClose.objects.filter(id=close.id).update(delinquent_customers=999_999)
    # Known at `early`, before the close: computed from the ledger as it stood then.
    (computed,) = portfolio.tallies_as_of([day], known_at=early)
    expected = portfolio._figures(day, portfolio.dpd_buckets(), computed)
    assert portfolio.portfolio_as_of(as_of=day, known_at=early) == expected
    assert portfolio.portfolio_as_of(as_of=day).delinquent_customers >= 999_999


def test_a_read_known_after_the_close_is_corrected_to_that_instant(monkeypatch):
    random_portfolio(monkeypatch, 25, loans=25)
    today = timezone.localdate()
    days = [today - timedelta(days=n) for n in (3, 40, 70)]
    portfolio_close(days=days, known_at=timezone.now())
    later_changes(monkeypatch, 25)
    middle = timezone.now()
    later_changes(monkeypatch, 26)
    for known_at in (middle, None):
        figures = portfolio.portfolio_as_of_dates(dates=days, known_at=known_at)
        computed = portfolio.tallies_as_of(days, known_at=known_at)
        buckets = portfolio.dpd_buckets()
        assert figures == [
            portfolio._figures(d, buckets, t) for d, t in zip(days, computed, strict=True)
        ]
        collection = portfolio.portfolio_collection(
            period_from=days[1], period_to=days[0], as_of=today, known_at=known_at
        )
        by_day = portfolio.collection_by_day(
            period_from=days[1], period_to=days[0], as_of=today, known_at=known_at
        )
        assert collection.due_amount == sum(d.due for d in by_day.values())
        assert collection.collected_on_time == sum(d.on_time for d in by_day.values())
        assert collection.collected_in_period == sum(d.collected for d in by_day.values())


def test_closes_of_another_time_zone_are_not_read(monkeypatch, settings):
    random_portfolio(monkeypatch, 27, loans=15)
    day = timezone.localdate() - timedelta(days=10)
    (close,) = portfolio_close(days=[day], known_at=timezone.now())
    PortfolioClose.objects.filter(id=close.id).update(delinquent_customers=999_999)
    assert portfolio.portfolio_as_of(as_of=day).delinquent_customers >= 999_999
    settings.TIME_ZONE = "Pacific/Kiritimati"
    timezone.deactivate()
    assert portfolio.portfolio_as_of(as_of=day).delinquent_customers < 999_999


def test_a_day_not_yet_ended_cannot_be_closed():
    today = timezone.localdate()
    with pytest.raises(InvalidInputError, match="has ended"):
        portfolio_close(days=[today])
    with pytest.raises(InvalidInputError, match="future"):
        portfolio_close(days=[today - timedelta(days=1)], known_at=timezone.now() + timedelta(1))
    assert not PortfolioClose.objects.exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("statement", "blocks"),
    [("SELECT txid_current()", True), ("SELECT count(*) FROM loans_loan", False)],
    ids=["a write transaction", "a read-only one"],
)
def test_a_write_in_flight_since_before_known_at_stops_the_close(statement, blocks):
    opened, release = threading.Event(), threading.Event()

    def hold_a_transaction():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute(statement)
                opened.set()
                release.wait(30)
                cursor.execute("ROLLBACK")
        finally:
            connections["default"].close()

    holder = threading.Thread(target=hold_a_transaction)
    holder.start()
    day = timezone.localdate() - timedelta(days=1)
    try:
        assert opened.wait(30)
        if blocks:
            with pytest.raises(BusinessRuleError, match="may still record payments"):
                portfolio_close(days=[day], known_at=timezone.now())
        else:
            portfolio_close(days=[day], known_at=timezone.now())
    finally:
        release.set()
        holder.join()
    assert PortfolioClose.objects.exists() is not blocks


def test_the_command_closes_each_day_since_the_newest_close(monkeypatch, settings, capsys):
    settings.PORTFOLIO_CLOSE_SETTLE_SECONDS = 0
    random_portfolio(monkeypatch, 28, loans=10)
    today = timezone.localdate()
    assert days_to_close() == [today - timedelta(days=1)]
    call_command("close_portfolio", "--from", (today - timedelta(days=5)).isoformat())
    assert sorted(PortfolioClose.objects.values_list("day", flat=True)) == [
        today - timedelta(days=n) for n in range(5, 0, -1)
    ]
    assert "Closed 5 day(s)" in capsys.readouterr().out
    call_command("close_portfolio")  # yesterday again: a newer close beside the old
    assert PortfolioClose.objects.filter(day=today - timedelta(days=1)).count() == 2
    with pytest.raises(CommandError, match="has ended"):
        call_command("close_portfolio", "--day", today.isoformat())


def test_the_database_refuses_an_impossible_close():
    from django.db import IntegrityError

    close = PortfolioClose.objects.create(
        day=timezone.localdate() - timedelta(days=1),
        known_at=timezone.now(),
        time_zone="UTC",
        rules=portfolio.CLOSE_RULES,
        delinquent_customers=0,
        due_amount=Decimal("10.00"),
        collected_on_time=Decimal("5.00"),
        collected=Decimal("5.00"),
    )
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        cursor.execute("SAVEPOINT s")
        cursor.execute(
            f'UPDATE "{PortfolioClose._meta.db_table}" SET collected_on_time = 11 WHERE id = %s',
            [close.id],
        )
    with connection.cursor() as cursor:
        cursor.execute("ROLLBACK TO SAVEPOINT s")
    with pytest.raises(IntegrityError):
        PortfolioCloseBand.objects.create(
            close=close,
            days_past_due=3,
            delinquent=False,
            loans=1,
            outstanding=Decimal("1.00"),
            outstanding_principal=Decimal("2.00"),
        )
