"""Issue 12 benchmark: portfolio risk figures (GET /api/portfolio's selectors) at scale.

    make bench BENCH=risk
    BENCH_RISK_SIZES=100000,1000000 make bench BENCH=risk
    BENCH_RISK_SIZES=1000000 BENCH_RISK_REUSE=1 make bench BENCH=risk  # no re-seeding

Seeds its database with ``bench_portfolio.seed`` (set-based ``INSERT … SELECT
generate_series``: 5 loans per customer, 50-week loans, payments for ~80 % of
them) and times, in process (no HTTP), the median of ``BENCH_REPEAT`` calls:

* ``portfolio_as_of`` as of today and 60 days ago;
* ``portfolio_collection`` over the last 7 days, and the 7 days to 60 days ago;
* the ``bucket=8-30`` loan filter (a count), today and 60 days ago;
* ``portfolio_get`` (what ``GET /api/portfolio`` computes) with a 7-day period, as of
  today and as of 60 days ago;
* the admin page's 12-week trend.

Past days are timed twice: closed (``loans.closing``: the days the cases read
are closed first, timed, and then the ledger learns ``BENCH_RISK_CHURN``
back-dated payments and a tenth as many reversals, so every closed read has a
correction to make) and not closed (days that no close covers).

At sizes up to ``BENCH_RISK_CHECK_MAX`` (default 100,000) every figure is also
computed by ``billing.portfolio`` in Python over the seeded rows, and a
difference fails the run.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from decimal import Decimal

import bench_portfolio  # sets Django up on its own database first
from common import BenchError, print_table, recreate_database, timed
from django.db import connection
from django.utils import timezone

from billing.portfolio import (
    PortfolioLoan,
    ScheduledLoan,
    collection_figures,
    portfolio_figures,
)
from billing.schedule import Terms, start_date
from billing.state import loan_state
from loans import portfolio
from loans.closing import portfolio_close
from loans.models import Loan
from mo_loans.admin_portfolio import TREND_WEEKS, portfolio_trend
from payments.models import Payment
from payments.services import payment_make, payment_reverse

SIZES = [int(n) for n in os.environ.get("BENCH_RISK_SIZES", "10000").split(",")]
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
CHECK_MAX = int(os.environ.get("BENCH_RISK_CHECK_MAX", "100000"))
# Time the book already seeded by an earlier run (one size) instead of seeding again.
REUSE = os.environ.get("BENCH_RISK_REUSE") == "1"
# Back-dated payments recorded after the close (and a tenth as many reversals).
CHURN = int(os.environ.get("BENCH_RISK_CHURN", "200"))
PAST = 60


def plain_book():
    """Every activated loan's terms, start and (value date, amount) payments, in Python."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, customer_id, amount, interest_rate, term_weeks, total_amount, "
            f'installment_amount, maximum_payment_date FROM "{Loan._meta.db_table}" '
            "WHERE status IN (2, 4)"
        )
        loans = cursor.fetchall()
        cursor.execute(
            f'SELECT loan_id, paid_at, amount FROM "{portfolio.DETAIL_TABLE}" '
            "WHERE superseded_at IS NULL ORDER BY paid_at, id"
        )
        payments: dict[int, list] = {}
        for loan_id, paid_at, amount in cursor.fetchall():
            payments.setdefault(loan_id, []).append((timezone.localdate(paid_at), amount))
    return [
        (
            customer,
            Terms(amount, rate, weeks, total, inst),
            start_date(end, weeks),
            payments.get(loan_id, []),
            loan_id,
        )
        for loan_id, customer, amount, rate, weeks, total, inst, end in loans
    ]


def check(n_loans: int) -> None:
    book = plain_book()
    today = timezone.localdate()
    for as_of in (today, today - timedelta(days=PAST), today - timedelta(days=PAST + 7)):
        rows = [
            PortfolioLoan(c, t, s, sum((a for d, a in p if d <= as_of), Decimal(0)))
            for c, t, s, p, _ in book
        ]
        if portfolio.portfolio_as_of(as_of=as_of) != portfolio_figures(loans=rows, as_of=as_of):
            raise BenchError(f"portfolio_as_of({as_of}) differs from billing.portfolio")
    scheduled = [ScheduledLoan(t, s, p) for _, t, s, p, _ in book]
    for end in (today, today - timedelta(days=PAST), today - timedelta(days=84)):
        start = end - timedelta(days=6)
        got = portfolio.portfolio_collection(period_from=start, period_to=end, as_of=today)
        if got != collection_figures(loans=scheduled, period_from=start, period_to=end):
            raise BenchError(f"portfolio_collection({start}..{end}) differs from billing.portfolio")
    for as_of in (today - timedelta(days=PAST), today - timedelta(days=PAST + 7)):
        expected = set()
        for _, terms, start, payments, loan_id in book:
            paid = sum((a for d, a in payments if d <= as_of), Decimal(0))
            if start > as_of or paid >= terms.total_amount:
                continue
            late = loan_state(terms=terms, start=start, paid=paid, as_of=as_of).days_past_due
            if 8 <= late <= 30:
                expected.add(loan_id)
        got = portfolio.filter_loans_by_dpd(
            Loan.objects.all(), as_of=as_of, dpd_min=8, dpd_max=30
        ).values_list("id", flat=True)
        if set(got) != expected:
            raise BenchError(f"the bucket=8-30 filter as of {as_of} differs from billing.state")
    print(f"checked every figure against billing.portfolio at {n_loans:,} loans", flush=True)


def days_read(today) -> list:
    """The past days the timed cases read from closes."""
    past = today - timedelta(days=PAST)
    days = {past - timedelta(days=n) for n in range(7)}
    days |= {today - timedelta(days=n) for n in range(1, 7)}
    days |= {today - timedelta(weeks=n) for n in range(1, TREND_WEEKS)}
    return sorted(days)


def churn(n_payments: int, run: str) -> None:
    """What the ledger learns after a close: back-dated payments to random active loans
    (value dates up to 90 days back) and reversals of random completed payments."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT l."external_id", c."external_id", l."installment_amount", l."outstanding", '
            f'l."taken_at" FROM "{Loan._meta.db_table}" l JOIN customers_customer c '
            'ON c."id" = l."customer_id" WHERE l."status" = 2 AND l."taken_at" < %s '
            'ORDER BY md5(l."id"::text || %s) LIMIT %s',
            [now - timedelta(days=2), run, n_payments],
        )
        loans = cursor.fetchall()
        cursor.execute(
            f'SELECT "external_id" FROM "{Payment._meta.db_table}" WHERE "status" = 1 '
            'ORDER BY md5("id"::text || %s) LIMIT %s',
            [run, max(1, n_payments // 10)],
        )
        reversals = [row[0] for row in cursor.fetchall()]
    for n, (loan, customer, installment, outstanding, taken_at) in enumerate(loans):
        earliest = max(taken_at, now - timedelta(days=90))
        paid_at = earliest + (now - timedelta(days=1) - earliest) * ((n * 37 % 100) / 100)
        payment_make(
            external_id=f"churn-{run}-{n}",
            customer_external_id=customer,
            total_amount=min(installment, outstanding),
            loan_external_id=loan,
            paid_at=paid_at,
        )
    for external_id in reversals:
        payment_reverse(external_id=external_id, reason="bench: bounced")


def run_size(n_loans: int) -> tuple[dict, dict]:
    print(f"\n--- {n_loans:,} loans", flush=True)
    if REUSE:
        times = {"total": 0.0}
        held = Loan.objects.count()
        if held != n_loans:
            raise BenchError(f"BENCH_RISK_REUSE=1 but the database holds {held:,} loans")
    else:
        times = bench_portfolio.seed(n_loans)
    today = timezone.localdate()
    days = days_read(today)
    started = time.perf_counter()
    portfolio_close(days=days, known_at=timezone.now())
    times["close"] = time.perf_counter() - started
    times["closed days"] = len(days)
    started = time.perf_counter()
    churn(CHURN, run=f"{n_loans}-{timezone.now():%Y%m%d%H%M%S}")
    times["churn"] = time.perf_counter() - started
    print(
        f"closed {len(days)} days in {times['close']:.1f} s; then recorded {CHURN} back-dated "
        f"payments and {max(1, CHURN // 10)} reversals in {times['churn']:.1f} s",
        flush=True,
    )
    if n_loans <= CHECK_MAX:
        check(n_loans)
    past = today - timedelta(days=PAST)
    # Closed by nothing: not in the week to `past`, nor a week of the trend.
    open_day = past - timedelta(days=7)
    open_period = (today - timedelta(days=90), today - timedelta(days=84))
    week = timedelta(days=6)
    cases = {
        "portfolio as of today": lambda: portfolio.portfolio_as_of(as_of=today),
        f"portfolio as of {PAST} days ago (closed)": lambda: portfolio.portfolio_as_of(as_of=past),
        f"portfolio as of {PAST + 7} days ago (not closed)": lambda: portfolio.portfolio_as_of(
            as_of=open_day
        ),
        "collection, last 7 days (6 closed, today not)": lambda: portfolio.portfolio_collection(
            period_from=today - week, period_to=today, as_of=today
        ),
        f"collection, 7 days to {PAST} days ago (closed)": lambda: portfolio.portfolio_collection(
            period_from=past - week, period_to=past, as_of=today
        ),
        "collection, 7 days to 84 days ago (not closed)": lambda: portfolio.portfolio_collection(
            period_from=open_period[0], period_to=open_period[1], as_of=today
        ),
        "bucket=8-30 filter (count), today": lambda: portfolio.filter_loans_by_dpd(
            Loan.objects.all(), as_of=today, dpd_min=8, dpd_max=30
        ).count(),
        f"bucket=8-30 filter (count), {PAST} days ago (closed)": (
            lambda: portfolio.filter_loans_by_dpd(
                Loan.objects.all(), as_of=past, dpd_min=8, dpd_max=30
            ).count()
        ),
        f"bucket=8-30 filter (count), {PAST + 7} days ago (not closed)": (
            lambda: portfolio.filter_loans_by_dpd(
                Loan.objects.all(), as_of=open_day, dpd_min=8, dpd_max=30
            ).count()
        ),
        "GET /api/portfolio's figures, as of today with the last 7 days": (
            lambda: portfolio.portfolio_get(as_of=today, period_from=today - week, period_to=today)
        ),
        f"GET /api/portfolio's figures, as of {PAST} days ago with the 7 days to it": (
            lambda: portfolio.portfolio_get(as_of=past, period_from=past - week, period_to=past)
        ),
        "admin 12-week trend": lambda: portfolio_trend(as_of=today),
    }
    return times, {name: timed(fn, repeat=REPEAT)[0] for name, fn in cases.items()}


def main() -> int:
    if REUSE and len(SIZES) != 1:
        raise BenchError("BENCH_RISK_REUSE=1 times one size: set BENCH_RISK_SIZES to it")
    if not REUSE:
        recreate_database()
    started = time.perf_counter()
    results = {n: run_size(n) for n in SIZES}
    print("\n### Seeding\n")
    print_table(
        ["loans", "seeding total", "closing the days read", "churn after the close"],
        [
            [
                f"{n:,}",
                f"{times['total']:.1f} s",
                f"{times['close']:.1f} s ({times['closed days']} days)",
                f"{times['churn']:.1f} s",
            ]
            for n, (times, _) in results.items()
        ],
    )
    print(f"\n### Median of {REPEAT} calls after a warm-up (min–max), in process\n")
    names = list(results[SIZES[0]][1])
    print_table(
        ["figure", *[f"{n:,} loans" for n in SIZES]],
        [
            [
                name,
                *[
                    f"{results[n][1][name].median_ms:.0f} ms "
                    f"({results[n][1][name].min_ms:.0f}–{results[n][1][name].max_ms:.0f})"
                    for n in SIZES
                ],
            ]
            for name in names
        ],
    )
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
