"""Issue 4 benchmark: payments per second through ``POST /api/payments``, spread and hot.

    make bench BENCH=payments

1. Seeds its own database (``mo_loans_bench_payments``): 2,000 customers with
   2 active 50-week loans each (5,000,000 at 10 %, taken 70 days ago, unpaid).
2. Serves the API with the project's gunicorn (gunicorn.conf.py defaults: 2
   workers, 4 threads each) and drives
   ``POST /api/payments`` (small amounts, unique ``external_id``, an
   ``Idempotency-Key`` as a careful client sends) with an asyncio + httpx
   closed-loop client at 1, 8 and 32 concurrent clients, in two modes:
   *spread* (each payment for a random customer) and *hot* (every payment for
   customer 1). Spread and hot run side by side per concurrency, for several
   rounds; the median round is quoted.
3. Verifies every balance from the payment details: each loan's
   ``paid_amount`` and ``outstanding``, each completed payment's details
   against its total, and the amounts the client was told against the ledger.
   Any error or mismatch fails the run.

Knobs: ``BENCH_PAYMENTS_SECONDS`` (per run, default 5), ``BENCH_PAYMENTS_ROUNDS``
(default 3), ``BENCH_PAYMENTS_CONCURRENCY`` (default ``1,8,32``).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import statistics
import sys
import time
import uuid
from collections import defaultdict
from decimal import Decimal

from common import (
    BenchError,
    Gunicorn,
    LoadResult,
    closed_loop,
    create_api_key,
    print_table,
    recreate_database,
    seed_active_loans,
    setup_django,
)

DATABASE = "mo_loans_bench_payments"
CUSTOMERS = 2000
LOANS_PER_CUSTOMER = 2
HOT_CUSTOMER = "bc-0000001"
PAYMENT_AMOUNT = "100.00"
SECONDS = float(os.environ.get("BENCH_PAYMENTS_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_PAYMENTS_ROUNDS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_PAYMENTS_CONCURRENCY", "1,8,32").split(",")]
WARMUP_SECONDS = 1.0
GOAL_RATIO = 0.5

setup_django(DATABASE)

from django.db import connection  # noqa: E402

from loans.models import Loan  # noqa: E402
from payments.models import Payment, PaymentDetail  # noqa: E402

T_LOAN = Loan._meta.db_table
T_PAYMENT = Payment._meta.db_table
T_DETAIL = PaymentDetail._meta.db_table


class Ledger:
    """What the server answered: every completed payment and the details it reported."""

    def __init__(self) -> None:
        self.payments: dict[str, Decimal] = {}
        self.by_loan: dict[str, Decimal] = defaultdict(Decimal)
        self._ids = itertools.count(1)

    def sender(self, mode: str, concurrency: int, rnd: int):
        prefix = f"bp-{mode}-{concurrency}-{rnd}-"

        async def send(client) -> None:
            customer = HOT_CUSTOMER if mode == "hot" else f"bc-{random.randint(1, CUSTOMERS):07d}"
            external_id = f"{prefix}{next(self._ids)}"
            response = await client.post(
                "/api/payments",
                json={
                    "external_id": external_id,
                    "customer_external_id": customer,
                    "total_amount": PAYMENT_AMOUNT,
                },
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if response.status_code != 201:
                raise BenchError(f"{response.status_code}: {response.text[:300]}")
            body = response.json()
            if body["status"] != Payment.Status.COMPLETED:
                raise BenchError(f"payment not completed: {body}")
            self.payments[external_id] = Decimal(body["total_amount"])
            for detail in body["details"]:
                self.by_loan[detail["loan_external_id"]] += Decimal(detail["amount"])

        return send


def run_all(url: str, headers: dict[str, str], ledger: Ledger) -> dict[tuple[str, int], list]:
    results: dict[tuple[str, int], list[LoadResult]] = defaultdict(list)
    for rnd in range(1, ROUNDS + 1):
        for concurrency in CONCURRENCY:
            for mode in ("spread", "hot"):
                result = asyncio.run(
                    closed_loop(
                        url,
                        ledger.sender(mode, concurrency, rnd),
                        concurrency=concurrency,
                        duration=SECONDS,
                        warmup=WARMUP_SECONDS,
                        headers=headers,
                    )
                )
                results[mode, concurrency].append(result)
                print(
                    f"round {rnd} {mode:6} c={concurrency:<3} {result.rate:7.1f}/s "
                    f"p50 {result.ms(50):6.1f} ms p99 {result.ms(99):6.1f} ms "
                    f"errors {result.errors}",
                    flush=True,
                )
                for sample in result.error_samples:
                    print(f"    error: {sample}", flush=True)
    return results


def verify(ledger: Ledger) -> list[str]:
    """Every balance recomputed from the payment details; a list of problems (empty: exact)."""
    problems = []
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE l.paid_amount <> COALESCE(d.paid, 0)),
                   count(*) FILTER (WHERE l.outstanding <> l.total_amount - COALESCE(d.paid, 0)),
                   count(*), COALESCE(sum(l.paid_amount), 0)
            FROM {T_LOAN} l
            LEFT JOIN (SELECT loan_id, sum(amount) AS paid FROM {T_DETAIL} GROUP BY loan_id) d
                   ON d.loan_id = l.id
            """
        )
        paid_wrong, outstanding_wrong, loans, paid_total = cursor.fetchone()
        cursor.execute(
            f"""
            SELECT count(*) FILTER (WHERE p.status = 1 AND p.total_amount <> COALESCE(d.s, 0)),
                   count(*) FILTER (WHERE p.status = 2 AND d.n > 0),
                   count(*) FILTER (WHERE p.status = 1),
                   count(*) FILTER (WHERE p.status = 2),
                   COALESCE(sum(p.total_amount) FILTER (WHERE p.status = 1), 0)
            FROM {T_PAYMENT} p
            LEFT JOIN (SELECT payment_id, sum(amount) AS s, count(*) AS n
                       FROM {T_DETAIL} GROUP BY payment_id) d ON d.payment_id = p.id
            """
        )
        details_wrong, rejected_with_details, completed, rejected, completed_total = (
            cursor.fetchone()
        )
        cursor.execute(f"SELECT external_id, paid_amount FROM {T_LOAN} WHERE paid_amount > 0")
        db_by_loan = dict(cursor.fetchall())
    if paid_wrong:
        problems.append(f"{paid_wrong} loans' paid_amount differ from their details")
    if outstanding_wrong:
        problems.append(f"{outstanding_wrong} loans' outstanding ≠ total − details")
    if details_wrong:
        problems.append(f"{details_wrong} completed payments' details ≠ their total")
    if rejected_with_details:
        problems.append(f"{rejected_with_details} rejected payments have details")
    if rejected:
        problems.append(f"{rejected} payments were rejected (each should complete)")
    if completed != len(ledger.payments):
        problems.append(f"{completed} completed payments stored, {len(ledger.payments)} answered")
    if completed_total != paid_total:
        problems.append(f"payments total {completed_total} ≠ loans' paid total {paid_total}")
    answered = {k: v for k, v in ledger.by_loan.items() if v}
    if answered != db_by_loan:
        differ = sum(
            1 for k in answered.keys() | db_by_loan.keys() if answered.get(k) != db_by_loan.get(k)
        )
        problems.append(f"{differ} loans' paid_amount differ from the details the API answered")
    print(
        f"verified {loans} loans and {completed} completed payments "
        f"({completed_total} paid in all): "
        + ("every balance exact" if not problems else "; ".join(problems)),
        flush=True,
    )
    return problems


def main() -> int:
    started = time.perf_counter()
    recreate_database()
    seed_active_loans(customers=CUSTOMERS, loans_per_customer=LOANS_PER_CUSTOMER)
    key = create_api_key("bench-payments")
    print(
        f"seeded {CUSTOMERS} customers × {LOANS_PER_CUSTOMER} loans "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    ledger = Ledger()
    headers = {"Authorization": f"Api-Key {key}"}
    with Gunicorn(env={"DATABASE_NAME": DATABASE}, workers=2) as server:
        results = run_all(server.url, headers, ledger)

    def median_run(runs: list[LoadResult]) -> LoadResult:
        return sorted(runs, key=lambda r: r.rate)[len(runs) // 2]

    rows, failures = [], []
    for concurrency in CONCURRENCY:
        ratios = [
            hot.rate / spread.rate if spread.rate else 0.0
            for spread, hot in zip(
                results["spread", concurrency], results["hot", concurrency], strict=True
            )
        ]
        ratio = statistics.median(ratios)
        for mode in ("spread", "hot"):
            runs = results[mode, concurrency]
            run = median_run(runs)
            errors = sum(r.errors for r in runs)
            rows.append(
                [
                    mode,
                    concurrency,
                    f"{run.rate:.0f}",
                    f"{run.ms(50):.1f}",
                    f"{run.ms(99):.1f}",
                    errors,
                    f"{ratio:.2f}" if mode == "hot" else "",
                ]
            )
            if errors:
                failures.append(f"{errors} errors in {mode} c={concurrency}")
        if ratio < GOAL_RATIO:
            print(f"goal missed: hot/spread {ratio:.2f} < {GOAL_RATIO} at c={concurrency}")

    print(
        f"\nPOST /api/payments, gunicorn 2 workers x 4 threads, median of {ROUNDS} rounds of "
        f"{SECONDS:g} s (ratio: median of the per-round hot/spread ratios)\n"
    )
    print_table(["mode", "clients", "payments/s", "p50 ms", "p99 ms", "errors", "hot/spread"], rows)
    failures += verify(ledger)
    if failures:
        raise BenchError("; ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
