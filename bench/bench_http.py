"""Issue 7 benchmark: HTTP load on four routes, saturation and half-saturation latency.

    make bench-http

1. Seeds its own database (``mo_loans_bench_http``): 1,000 customers, each with
   one active 50-week loan (5,000,000 at 10 %, taken 70 days ago), a third of
   them with 1-9 instalments paid through ``payment_make``.
2. Serves the API with the project's gunicorn (gunicorn.conf.py defaults: 2
   workers, 4 threads each) and, with an
   asyncio + httpx load generator that keeps every latency (exact percentiles):

   * finds each route's saturation throughput: closed loop, 16 clients,
     ``ROUNDS`` rounds of ``SECONDS`` s, the routes interleaved round by round
     so that noise on the shared machine hits them all alike (median quoted;
     the ratio to ping is the median of the per-round ratios);
   * runs each route open-loop at half its saturated rate (latency measured
     from each request's scheduled start) for its p50/p99 at half saturation;
   * profiles the slowest route with ``py-spy record`` on both workers (if
     py-spy is installed), and prints where the time goes.

   Routes: ``GET /healthz`` (the ping: no database, no API key check),
   ``GET /api/loans/{id}`` (billing state), ``GET /api/loans/{id}/schedule``,
   ``POST /api/payments`` (10.00 for a random customer, with an Idempotency-Key).
3. Fails (non-zero exit) on any error or wrong answer; prints the goals missed.

Knobs: ``BENCH_HTTP_SECONDS`` (default 5), ``BENCH_HTTP_ROUNDS`` (default 3),
``BENCH_HTTP_CONCURRENCY`` (default 16), ``BENCH_HTTP_PROFILE`` (default 1).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from common import (
    REPO,
    BenchError,
    Gunicorn,
    LoadResult,
    closed_loop,
    create_api_key,
    open_loop,
    print_table,
    recreate_database,
    seed_active_loans,
    setup_django,
    worker_pids,
)

DATABASE = "mo_loans_bench_http"
CUSTOMERS = 1000
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
CONCURRENCY = int(os.environ.get("BENCH_HTTP_CONCURRENCY", "16"))
PROFILE = os.environ.get("BENCH_HTTP_PROFILE", "1") == "1"
HALF_SECONDS = 8.0
PROFILE_SECONDS = 8
WARMUP_SECONDS = 1.0
GOALS = {"loan": 0.35, "payment": 0.20}  # throughput as a fraction of ping's
P99_GOAL_MS = 50.0

setup_django(DATABASE)

from payments.models import Payment  # noqa: E402
from payments.services import payment_make  # noqa: E402

_ids = itertools.count(1)


def _loan_id() -> str:
    return f"bl-{random.randint(1, CUSTOMERS):08d}"


def _expect(response, status: int) -> None:
    if response.status_code != status:
        raise BenchError(f"{response.status_code}: {response.text[:300]}")


async def ping(client) -> None:
    response = await client.get("/healthz")
    _expect(response, 200)
    if response.json() != {"status": "ok"}:
        raise BenchError(f"unexpected ping answer {response.text[:100]}")


async def loan(client) -> None:
    loan_id = _loan_id()
    response = await client.get(f"/api/loans/{loan_id}")
    _expect(response, 200)
    body = response.json()
    if body["external_id"] != loan_id or "is_delinquent" not in body:
        raise BenchError(f"unexpected loan answer {response.text[:300]}")


async def schedule(client) -> None:
    response = await client.get(f"/api/loans/{_loan_id()}/schedule")
    _expect(response, 200)
    if len(response.json()) != 50:
        raise BenchError(f"unexpected schedule answer {response.text[:300]}")


async def payment(client) -> None:
    response = await client.post(
        "/api/payments",
        json={
            "external_id": f"bh-{uuid.uuid4().hex[:12]}-{next(_ids)}",
            "customer_external_id": f"bc-{random.randint(1, CUSTOMERS):07d}",
            "total_amount": "10.00",
        },
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    _expect(response, 201)
    if response.json()["status"] != Payment.Status.COMPLETED:
        raise BenchError(f"payment not completed: {response.text[:300]}")


ROUTES = {
    "ping": ("GET /healthz", ping),
    "loan": ("GET /api/loans/{id}", loan),
    "schedule": ("GET /api/loans/{id}/schedule", schedule),
    "payment": ("POST /api/payments", payment),
}


def seed() -> None:
    seed_active_loans(customers=CUSTOMERS, loans_per_customer=1)
    for n in range(3, CUSTOMERS + 1, 3):  # a third of them paid 1-9 instalments
        instalments = 1 + n % 9
        payment_make(
            external_id=f"seed-{n}",
            customer_external_id=f"bc-{n:07d}",
            total_amount=Decimal("110000.00") * instalments,
        )


# --- profile -----------------------------------------------------------------------


def profile(server: Gunicorn, name: str, headers: dict[str, str]) -> None:
    """``py-spy record`` both workers while ``name`` runs at saturation; print a summary."""
    py_spy = shutil.which("py-spy") or str(REPO / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: no profile (pip install -r dev-requirements.txt)")
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-http-profile-"))
    try:
        spies = []
        for pid in worker_pids(server.process.pid):
            out = folder / f"{pid}.txt"
            command = [py_spy, "record", "--pid", str(pid), "--duration", str(PROFILE_SECONDS)]
            command += ["--rate", "200", "--format", "raw", "--idle", "--output", str(out)]
            spies.append((out, subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)))  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        run = asyncio.run(
            closed_loop(
                server.url,
                ROUTES[name][1],
                concurrency=CONCURRENCY,
                duration=PROFILE_SECONDS - 1.5,
                headers=headers,
            )
        )
        stacks: Counter[tuple[str, ...]] = Counter()
        for out, spy in spies:
            _, err = spy.communicate(timeout=60)
            if spy.returncode != 0 or not out.exists():
                print(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')[-500:]}")
                return
            for line in out.read_text().splitlines():
                frames, _, count = line.rpartition(" ")
                stacks[tuple(frames.split(";"))] += int(count)
        summarise_profile(name, stacks, run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _short(frame: str) -> str:
    """``func (path/to/mod.py:12)`` → ``func (mod.py)``, paths made relative."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rpartition(":")[0]
    for marker in ("site-packages/", str(REPO) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


BUCKETS = [  # first match wins, from the leaf up: where a sample's time went
    ("waiting for a client (gunicorn accept/select)", ("gunicorn/workers/sync.py",)),
    ("PostgreSQL round trips (psycopg)", ("psycopg/",)),
    ("API key check (rest_framework_api_key)", ("rest_framework_api_key/",)),
    ("Prometheus metrics (prometheus_client)", ("prometheus_client/",)),
    ("logging", ("logging/", "pythonjsonlogger/")),
    ("DRF serializers / rendering", ("rest_framework/serializers.py", "rest_framework/fields.py",
                                     "rest_framework/renderers.py", "rest_framework/utils/")),
    ("Django ORM (query building, model instances)", ("django/db/",)),
    ("billing engine (billing/)", ("billing/",)),
    ("Django URL resolving / middleware / request", ("django/urls/", "django/core/handlers/",
                                                    "django/http/", "django/middleware/")),
]  # fmt: skip


def _bucket(stack: tuple[str, ...]) -> str:
    for frame in reversed(stack):
        for label, markers in BUCKETS:
            if any(m in frame for m in markers):
                return label
    return "other Python (views, project code, interpreter)"


def summarise_profile(name: str, stacks: Counter, run: LoadResult) -> None:
    total = sum(stacks.values())
    if not total:
        print("py-spy recorded no samples")
        return
    print(
        f"\nProfile of {ROUTES[name][0]} at saturation ({CONCURRENCY} clients, "
        f"{run.rate:.0f} req/s, {run.errors} errors): py-spy, both workers, "
        f"{total} samples incl. idle\n"
    )
    buckets: Counter[str] = Counter()
    for stack, count in stacks.items():
        buckets[_bucket(stack)] += count
    print_table(
        ["where the worker's time went", "share"],
        [[label, f"{count / total:.0%}"] for label, count in buckets.most_common()],
    )
    busy = {s: c for s, c in stacks.items() if not _bucket(s).startswith("waiting for a client")}
    busy_total = sum(busy.values()) or 1
    callers: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for stack, count in busy.items():
        callers[_caller(stack)] += count
        own[_short(stack[-1])] += count
    print("\nInside requests (share of busy samples) by the innermost project frame\n")
    print_table(
        ["innermost project frame", "share"],
        [[f, f"{c / busy_total:.0%}"] for f, c in callers.most_common(15)],
    )
    print("\nLeaf frames (self time)\n")
    print_table(["frame", "self"], [[f, f"{c / busy_total:.0%}"] for f, c in own.most_common(12)])


PROJECT = ("mo_loans/", "customers/", "loans/", "payments/", "billing/")


def _caller(stack: tuple[str, ...]) -> str:
    """The innermost frame of the project's own code (or the API key library) in a stack."""
    for frame in reversed(stack):
        short = _short(frame)
        path = short.rpartition(" (")[2]
        if path.startswith(PROJECT) or path.startswith("rest_framework_api_key/"):
            return short
    return "(outside project code)"


# --- main --------------------------------------------------------------------------


def main() -> int:
    started = time.perf_counter()
    recreate_database()
    seed()
    key = create_api_key("bench-http")
    print(f"seeded {CUSTOMERS} customers and loans in {time.perf_counter() - started:.1f} s")
    headers = {"Authorization": f"Api-Key {key}"}
    saturated: dict[str, list[LoadResult]] = defaultdict(list)
    half: dict[str, LoadResult] = {}
    errors = 0
    with Gunicorn(env={"DATABASE_NAME": DATABASE}, workers=2) as server:
        for rnd in range(1, ROUNDS + 1):
            for name, (label, send) in ROUTES.items():
                result = asyncio.run(
                    closed_loop(
                        server.url,
                        send,
                        concurrency=CONCURRENCY,
                        duration=SECONDS,
                        warmup=WARMUP_SECONDS,
                        headers=headers,
                    )
                )
                saturated[name].append(result)
                errors += result.errors
                print(
                    f"saturation round {rnd} {label:30} {result.rate:7.0f} req/s "
                    f"p50 {result.ms(50):6.1f} ms p99 {result.ms(99):6.1f} ms "
                    f"errors {result.errors}",
                    flush=True,
                )
                for sample in result.error_samples:
                    print(f"    error: {sample}")
        rates = {name: statistics.median(r.rate for r in runs) for name, runs in saturated.items()}
        for name, (label, send) in ROUTES.items():
            rate = rates[name] / 2
            result = asyncio.run(
                open_loop(server.url, send, rate=rate, duration=HALF_SECONDS, headers=headers)
            )
            half[name] = result
            errors += result.errors
            print(
                f"half saturation {label:30} {rate:7.0f} req/s offered "
                f"p50 {result.ms(50):6.1f} ms p99 {result.ms(99):6.1f} ms "
                f"errors {result.errors}",
                flush=True,
            )
            for sample in result.error_samples:
                print(f"    error: {sample}")
        slowest = min(rates, key=rates.get)
        if PROFILE:
            profile(server, slowest, headers)

    ratios = {
        name: statistics.median(
            run.rate / base.rate for run, base in zip(runs, saturated["ping"], strict=True)
        )
        for name, runs in saturated.items()
    }
    rows = []
    for name, (label, _) in ROUTES.items():
        runs = saturated[name]
        run = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
        rows.append(
            [
                label,
                f"{run.rate:.0f}",
                f"{run.ms(50):.1f}",
                f"{run.ms(99):.1f}",
                sum(r.errors for r in runs) + half[name].errors,
                f"{ratios[name]:.0%}",
                f"{half[name].rate:.0f}",
                f"{half[name].ms(50):.1f}",
                f"{half[name].ms(99):.1f}",
            ]
        )
    print(
        f"\ngunicorn 2 workers x 4 threads; saturation: closed loop, {CONCURRENCY} clients, "
        "median of "
        f"{ROUNDS} rounds of {SECONDS:g} s; half: open loop at 50 % of that rate for "
        f"{HALF_SECONDS:g} s\n"
    )
    print_table(
        [
            "route",
            "req/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "vs ping",
            "half: req/s",
            "half: p50 ms",
            "half: p99 ms",
        ],
        rows,
    )
    missed = [
        f"{ROUTES[name][0]} at {ratios[name]:.0%} of ping (goal {goal:.0%})"
        for name, goal in GOALS.items()
        if ratios[name] < goal
    ]
    missed += [
        f"{ROUTES[name][0]} p99 {result.ms(99):.1f} ms at half saturation (goal < {P99_GOAL_MS:g})"
        for name, result in half.items()
        if result.ms(99) >= P99_GOAL_MS
    ]
    print("\ngoals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    if errors:
        raise BenchError(f"{errors} requests failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
