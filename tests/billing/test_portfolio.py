"""The reference portfolio figures: worked examples (docs/billing.md) and properties."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.buckets import parse_buckets
from billing.money import ZERO
from billing.portfolio import (
    PortfolioLoan,
    ScheduledLoan,
    collection_figures,
    outstanding_principal,
    portfolio_figures,
    ratio,
)
from billing.schedule import make_terms

D = date(2026, 3, 2)


def test_outstanding_principal_is_the_flat_share_half_up_per_loan():
    # 5,000,000 at 10 %: total 5,500,000; after 10 instalments 4,400,000 is owed.
    assert outstanding_principal(
        outstanding=Decimal("4400000.00"),
        amount=Decimal("5000000.00"),
        total_amount=Decimal("5500000.00"),
    ) == Decimal("4000000.00")
    # 0.01 × 1 / 2 = 0.005: half-up gives 0.01; 0.01 × 1 / 3 = 0.0033…: 0.00.
    assert outstanding_principal(
        outstanding=Decimal("0.01"), amount=Decimal("1.00"), total_amount=Decimal("2.00")
    ) == Decimal("0.01")
    assert outstanding_principal(
        outstanding=Decimal("0.01"), amount=Decimal("1.00"), total_amount=Decimal("3.00")
    ) == Decimal("0.00")


def test_ratio_rounds_once_half_up_to_four_decimals():
    assert ratio(Decimal("1.00"), Decimal("3.00")) == "0.3333"
    assert ratio(Decimal("2.00"), Decimal("3.00")) == "0.6667"
    assert ratio(Decimal("0.00005"), Decimal("1")) == "0.0000"  # below a cent: not money
    assert ratio(Decimal("1.00"), Decimal("20000.00")) == "0.0001"  # exactly half: up
    assert ratio(Decimal("0.99"), Decimal("20000.00")) == "0.0000"
    assert ratio(Decimal("5.00"), Decimal("5.00")) == "1.0000"
    assert ratio(ZERO, ZERO) == "0.0000"


@given(st.integers(0, 10**16), st.integers(1, 10**16))
def test_ratio_equals_exact_rational_rounding(numerator, denominator):
    numerator = min(numerator, denominator)
    got = ratio(Decimal(numerator) / 100, Decimal(denominator) / 100)
    # Exact: the nearest 1/10000, halves up, by integer arithmetic on the fraction.
    scaled, remainder = divmod(numerator * 10000, denominator)
    if 2 * remainder >= denominator:
        scaled += 1
    assert Decimal(got) == Decimal(scaled) / 10000
    assert len(got.split(".")[1]) == 4


def _terms(amount="1000", rate="0.10", weeks=10):
    return make_terms(amount=Decimal(amount), interest_rate=Decimal(rate), term_weeks=weeks)


def test_a_worked_portfolio():
    terms = _terms()  # total 1,100.00; 10 × 110.00
    loans = [
        # Started 2026-01-05: due 01-12, 01-19, … By 03-02, 7 instalments were due before it.
        PortfolioLoan("ana", terms, date(2026, 1, 5), Decimal("770.00")),  # up to date
        PortfolioLoan("ana", terms, date(2026, 1, 5), Decimal("660.00")),  # 1 missed, 7 dpd
        PortfolioLoan("ben", terms, date(2026, 1, 5), Decimal("220.00")),  # 5 missed, 35 dpd
        PortfolioLoan("cy", terms, date(2026, 1, 5), Decimal("1100.00")),  # paid off
        PortfolioLoan("cy", terms, None, ZERO),  # never activated
        PortfolioLoan("cy", terms, date(2026, 3, 3), ZERO),  # activated after D
    ]
    figures = portfolio_figures(loans=loans, as_of=D)
    assert figures.active_loans == 3
    assert figures.gross_outstanding == Decimal("330.00") + Decimal("440.00") + Decimal("880.00")
    # 330 × 1000/1100 = 300.00; 440 → 400.00; 880 → 800.00
    assert figures.outstanding_principal == Decimal("1500.00")
    assert figures.par == {"1": "0.8000", "7": "0.5333", "30": "0.5333", "90": "0.0000"}
    rows = [(b.bucket, b.loans, b.outstanding, b.outstanding_principal) for b in figures.buckets]
    assert rows == [
        ("current", 1, Decimal("330.00"), Decimal("300.00")),
        ("1-7", 1, Decimal("440.00"), Decimal("400.00")),
        ("8-30", 0, ZERO, ZERO),
        ("31-60", 1, Decimal("880.00"), Decimal("800.00")),
        ("61-90", 0, ZERO, ZERO),
        ("91-", 0, ZERO, ZERO),
    ]
    assert (figures.delinquent_loans, figures.delinquent_customers) == (1, 1)


def test_an_empty_portfolio_has_zero_ratios():
    figures = portfolio_figures(loans=[], as_of=D, buckets=parse_buckets("1-30,31-"))
    assert figures.active_loans == 0
    assert figures.par == dict.fromkeys(("1", "7", "30", "90"), "0.0000")
    assert [b.bucket for b in figures.buckets] == ["current", "1-30", "31-"]


def test_a_worked_collection_period():
    terms = _terms()  # 10 × 110.00, due 01-12, 01-19, 01-26, 02-02, …
    start = date(2026, 1, 5)
    on_time = ScheduledLoan(terms, start, [(date(2026, 1, 12), Decimal("110.00"))])
    late = ScheduledLoan(
        terms,
        start,
        [(date(2026, 1, 11), Decimal("50.00")), (date(2026, 1, 13), Decimal("60.00"))],
    )
    figures = collection_figures(
        loans=[on_time, late], period_from=date(2026, 1, 12), period_to=date(2026, 1, 18)
    )
    # Due in the period: instalment 1 of each, 220.00. On time: 110 + 50.
    assert figures.due_amount == Decimal("220.00")
    assert figures.collected_on_time == Decimal("160.00")
    # Paid in the period: 110 on 01-12 and 60 on 01-13 (the 50 came the day before).
    assert figures.collected_in_period == Decimal("170.00")
    assert figures.on_time_rate == "0.7273"


def test_prepaying_counts_as_on_time_and_the_last_instalment_takes_the_remainder():
    terms = _terms(amount="100", rate="0", weeks=3)  # 33.33, 33.33, 33.34
    start = date(2026, 1, 5)
    loan = ScheduledLoan(terms, start, [(date(2026, 1, 6), Decimal("100.00"))])
    figures = collection_figures(
        loans=[loan], period_from=date(2026, 1, 26), period_to=date(2026, 1, 26)
    )
    assert (figures.due_amount, figures.collected_on_time) == (Decimal("33.34"), Decimal("33.34"))
    assert figures.collected_in_period == ZERO
    assert figures.on_time_rate == "1.0000"


@given(st.lists(st.tuples(st.integers(0, 1100), st.integers(-30, 120), st.booleans()), max_size=12))
def test_par_is_monotone_and_buckets_add_up(rows):
    terms = _terms()
    loans = [
        PortfolioLoan(i % 3, terms, D - timedelta(days=days) if active else None, Decimal(paid))
        for i, (paid, days, active) in enumerate(rows)
    ]
    figures = portfolio_figures(loans=loans, as_of=D)
    pars = [Decimal(figures.par[k]) for k in ("1", "7", "30", "90")]
    assert pars == sorted(pars, reverse=True)
    assert all(Decimal(0) <= p <= Decimal(1) for p in pars)
    assert sum(b.loans for b in figures.buckets) == figures.active_loans
    assert sum((b.outstanding for b in figures.buckets), ZERO) == figures.gross_outstanding
    assert figures.delinquent_customers <= min(figures.delinquent_loans, 3)
