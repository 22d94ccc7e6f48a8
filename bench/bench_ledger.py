"""Issue 10 benchmark: what a write that changes the past costs.

    make bench BENCH=ledger

Seeds its own database (``mo_loans_bench_ledger``) through the services: one
customer with 5 active 50-week loans (1,000,000 at 10 %, taken ~300 days ago a
day apart) and 250 completed payments of 1,000.00, one a day, none targeted.
Then, through the whole Django stack (``django.test.Client``: middleware, API
key, idempotency key, serializers, service, commit), it times:

* an ordinary payment (value date now: the replay's last step, no replay);
* a back-dated payment of 10.00 dated before every other payment: the worst
  case, every later payment's allocation moves by 10.00 and is rewritten;
* a reversal of one of the earliest payments: again every later payment moves.

Each is repeated ``BENCH_LEDGER_REPEAT`` times (default 15) in rounds that
alternate the three kinds; medians are quoted, with the rows each write
superseded. Afterwards ``verify_ledger`` must find the book exact.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal

from common import BenchError, create_api_key, print_table, recreate_database, setup_django

DATABASE = "mo_loans_bench_ledger"
REPEAT = int(os.environ.get("BENCH_LEDGER_REPEAT", "15"))
LOANS = 5
PAYMENTS = 250
GOAL_MS = 50.0

setup_django(DATABASE)

from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from customers.services import customer_create  # noqa: E402
from loans.services import loan_activate, loan_create  # noqa: E402
from payments.models import Payment, PaymentDetail  # noqa: E402
from payments.services import payment_make  # noqa: E402
from payments.verification import ledger_verify  # noqa: E402


def seed() -> None:
    now = timezone.now()
    customer_create(external_id="busy", score=Decimal("100000000"))
    for i in range(LOANS):
        loan_create(
            external_id=f"L{i}",
            customer_external_id="busy",
            amount=Decimal("1000000"),
            interest_rate=Decimal("0.10"),
            term_weeks=50,
        )
        loan_activate(external_id=f"L{i}", taken_at=now - timedelta(days=300 - i))
    for i in range(PAYMENTS):
        payment_make(
            external_id=f"seed-{i}",
            customer_external_id="busy",
            total_amount=Decimal("1000.00"),
            paid_at=now - timedelta(days=PAYMENTS - i, hours=1),
        )


def main() -> int:
    recreate_database()
    started = time.perf_counter()
    seed()
    print(
        f"seeded 1 customer, {LOANS} loans, {PAYMENTS} payments in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    client = Client(HTTP_AUTHORIZATION=f"Api-Key {create_api_key('bench-ledger')}")
    earliest = timezone.now() - timedelta(days=PAYMENTS + 1)
    times: dict[str, list[float]] = {"ordinary": [], "back-dated": [], "reversal": []}
    superseded: dict[str, list[int]] = {name: [] for name in times}
    failures = []
    keys = itertools.count()

    def run(name: str, path: str, body: dict, expect: int) -> None:
        before = PaymentDetail.objects.filter(superseded_at__isnull=False).count()
        key = f"{name}-{next(keys)}"
        started = time.perf_counter()
        response = client.post(
            path, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key
        )
        times[name].append((time.perf_counter() - started) * 1000)
        if response.status_code != expect:
            failures.append(f"{name}: {response.status_code} {response.content[:200]!r}")
        after = PaymentDetail.objects.filter(superseded_at__isnull=False).count()
        superseded[name].append(after - before)

    for i in range(REPEAT + 1):  # the first round warms up and is dropped
        run(
            "ordinary",
            "/api/payments",
            {"external_id": f"now-{i}", "customer_external_id": "busy", "total_amount": "10.00"},
            201,
        )
        run(
            "back-dated",
            "/api/payments",
            {
                "external_id": f"late-{i}",
                "customer_external_id": "busy",
                "total_amount": "10.00",
                "paid_at": (earliest + timedelta(minutes=i)).isoformat(),
            },
            201,
        )
        run("reversal", f"/api/payments/seed-{i}/reverse", {"reason": "bounced"}, 200)
        if i == 0:
            for values in (*times.values(), *superseded.values()):
                values.clear()

    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        rows.append(
            [
                name,
                f"{median:.1f}",
                f"{min(values):.1f}",
                f"{max(values):.1f}",
                f"{statistics.median(superseded[name]):.0f}",
            ]
        )
        if name != "ordinary" and median > GOAL_MS:
            print(f"goal missed: {name} median {median:.1f} ms > {GOAL_MS:g} ms")
    print(
        f"\n1 customer, {LOANS} loans × 50 weeks, {PAYMENTS}+ payments; "
        f"{REPEAT} of each, alternating; django.test.Client, whole stack\n"
    )
    print_table(["write", "median ms", "min ms", "max ms", "rows superseded (median)"], rows)
    completed = Payment.objects.filter(status=Payment.Status.COMPLETED).count()
    print(
        f"\n{completed} completed payments; "
        f"{PaymentDetail.objects.filter(superseded_at__isnull=False).count()} rows superseded"
    )
    started = time.perf_counter()
    mismatches = list(ledger_verify())
    print(f"verify_ledger: {len(mismatches)} mismatches in {time.perf_counter() - started:.2f} s")
    if mismatches:
        failures.append(f"{len(mismatches)} ledger mismatches")
    if failures:
        raise BenchError("; ".join(failures[:5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
