"""Helpers shared by the benchmarks: a private database, a real gunicorn, timings.

A benchmark script typically does::

    from common import Gunicorn, setup_django, recreate_database, time_get

    setup_django("mo_loans_bench_mything")  # before importing any model
    recreate_database()                      # drop, create and migrate it
    ...seed...
    with Gunicorn(env={"DATABASE_NAME": "mo_loans_bench_mything"}) as server:
        with httpx.Client(base_url=server.url, headers=auth) as client:
            timing, response = time_get(client, "/api/loans", repeat=7)
    print_table(["endpoint", "median ms"], [["/api/loans", f"{timing.median_ms:.0f}"]])

Each benchmark uses its own database (named ``mo_loans_bench_*``), so benchmarks
and test runs of other people on the same machine never share data.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support.gunicorn import (  # noqa: E402  (the checkout is on sys.path now)
    GunicornError,
    GunicornServer,
    free_port,
    worker_pids,
)

__all__ = ["free_port", "worker_pids"]

BENCH_DATABASE_PREFIX = "mo_loans_bench"


class BenchError(RuntimeError):
    """A benchmark found a wrong answer or could not run: it must fail loudly."""


# --- Django and the private database ------------------------------------------


def setup_django(database_name: str) -> None:
    """Point Django at ``database_name`` and set it up. Call before importing models."""
    if not database_name.startswith(BENCH_DATABASE_PREFIX):
        raise BenchError(f"A benchmark database must be named {BENCH_DATABASE_PREFIX}_*.")
    os.environ["DATABASE_NAME"] = database_name
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mo_loans.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # Seeding a million rows runs minutes-long statements on purpose: no time limit
    # for the benchmark (the gunicorn it starts inherits it; no request nears the limit).
    os.environ.setdefault("DATABASE_STATEMENT_TIMEOUT_MS", "0")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    import django

    django.setup()
    # The benchmarks load, truncate and recreate their database: they work as its
    # owner. What they serve over HTTP (gunicorn) connects as the app role.
    from django.conf import settings
    from django.db import connections

    from mo_loans.dbroles import owner_credentials

    db = settings.DATABASES["default"]
    db["APP"] = {"USER": db["USER"], "PASSWORD": db["PASSWORD"]}
    owner = owner_credentials(db)
    if owner:
        db.update(owner)
        connections["default"].close()


def recreate_database(*, migrate: bool = True) -> None:
    """Drop and create the configured (benchmark) database, then migrate it.

    The app role gets its grants, and the database lets its sessions TRUNCATE
    the ledger (payments 0051): a benchmark empties it between runs.
    """
    import psycopg
    from django.core.management import call_command
    from django.db import connection
    from psycopg import sql

    from mo_loans.dbroles import app_role_grant

    name = connection.settings_dict["NAME"]
    if not name.startswith(BENCH_DATABASE_PREFIX):  # never drop anybody else's data
        raise BenchError(f"Refusing to drop {name!r}: not a benchmark database.")
    connection.close()
    params = connection.get_connection_params()
    params["dbname"] = "postgres"
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        ident = sql.Identifier(name)
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(ident))
        # A scratch database: its seeders may TRUNCATE the ledger (payments 0051).
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET mo_loans.allow_ledger_truncate = 'on'").format(ident)
        )
    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
        app = connection.settings_dict["APP"]["USER"]
        if app != connection.settings_dict["USER"]:
            app_role_grant(role=app)


def create_api_key(name: str = "bench") -> str:
    from rest_framework_api_key.models import APIKey

    _, key = APIKey.objects.create_key(name=name)
    return key


# --- gunicorn -----------------------------------------------------------------------


@dataclass
class Gunicorn(GunicornServer):
    """The shared test-support server (``tests/support/gunicorn.py``), ready on ``/readyz``.

    A slow benchmark request is measured, not killed (``GUNICORN_TIMEOUT`` 300 s);
    a server that does not start is a :class:`BenchError`.
    """

    ready_path: str = "/readyz"

    def start(self) -> Gunicorn:
        self.env = {"GUNICORN_TIMEOUT": "300", **self.env}
        try:
            super().start()
        except GunicornError as exc:
            raise BenchError(str(exc)) from exc
        return self


# --- timing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    samples: tuple[float, ...]  # seconds

    @property
    def median_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def min_ms(self) -> float:
        return min(self.samples) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.samples) * 1000

    def __str__(self) -> str:
        return f"{self.median_ms:.0f} ms (min {self.min_ms:.0f}, max {self.max_ms:.0f})"


def timed(fn: Callable[[], object], *, repeat: int = 7, warmup: int = 1) -> tuple[Timing, object]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed; the last result."""
    result = None
    for _ in range(warmup):
        result = fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return Timing(tuple(samples)), result


def time_get(client, url: str, *, repeat: int = 7, warmup: int = 1, expect: int = 200):
    """Time ``GET url`` with an ``httpx.Client``; every answer must have status ``expect``."""

    def get():
        response = client.get(url)
        if response.status_code != expect:
            raise BenchError(f"GET {url}: {response.status_code} {response.text[:500]}")
        return response

    return timed(get, repeat=repeat, warmup=warmup)


# --- output ------------------------------------------------------------------------


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, columns padded so it reads well in a terminal too."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells[1:]:
        print(line(row))
    sys.stdout.flush()


# --- HTTP load (asyncio + httpx) ------------------------------------------------------


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The exact ``q``-th percentile (nearest rank) of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * q // 100))  # ceil(n * q / 100), at least 1
    return sorted_values[int(rank) - 1]


@dataclass
class LoadResult:
    """One load run: the latencies (seconds) of every request counted, and its errors."""

    elapsed: float
    latencies: list[float] = field(default_factory=list)
    ok: int = 0  # counted requests that went well
    errors: int = 0  # every failed request, counted or not
    error_samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Successful requests per second."""
        return self.ok / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float) -> float:
        """The exact ``q``-th percentile latency in milliseconds."""
        return percentile(sorted(self.latencies), q) * 1000

    def record(self, latency: float, error: str | None, *, counted: bool = True) -> None:
        if counted:
            self.latencies.append(latency)
            self.ok += error is None
        if error is not None:
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(error)


async def _timed_send(send, client) -> str | None:
    """Make one request; None when it went well, else a short description of the error."""
    try:
        await send(client)
    except Exception as exc:  # every failure is counted, and the first few shown
        return f"{type(exc).__name__}: {str(exc)[:300]}"
    return None


def _client(base_url: str, connections: int, headers: dict[str, str] | None):
    import httpx

    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(60.0),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    )


async def closed_loop(
    base_url: str,
    send,
    *,
    concurrency: int,
    duration: float,
    warmup: float = 0.0,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """``concurrency`` clients, each sending its next request as soon as the last is answered.

    ``send(client)`` is an ``async`` function making one request with the
    ``httpx.AsyncClient`` given and raising on a wrong answer (an error).
    After ``warmup`` seconds, the requests both started and answered within
    the next ``duration`` seconds are counted (throughput and latencies);
    errors are counted whenever they happen.
    """
    import asyncio

    result = LoadResult(elapsed=duration)
    async with _client(base_url, concurrency, headers) as client:
        measure_from = time.perf_counter() + warmup
        stop_at = measure_from + duration

        async def one_client() -> None:
            while (started := time.perf_counter()) < stop_at:
                error = await _timed_send(send, client)
                ended = time.perf_counter()
                counted = started >= measure_from and ended <= stop_at
                result.record(ended - started, error, counted=counted)

        await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return result


async def open_loop(
    base_url: str,
    send,
    *,
    rate: float,
    duration: float,
    max_in_flight: int = 256,
    headers: dict[str, str] | None = None,
) -> LoadResult:
    """Requests started at a fixed ``rate`` per second for ``duration`` seconds.

    Each latency runs from the request's *scheduled* start, so a stalled server
    shows up in the percentiles (no coordinated omission). ``elapsed`` runs
    until the last answer.
    """
    import asyncio

    result = LoadResult(elapsed=0.0)

    async def one(client, scheduled: float) -> None:
        error = await _timed_send(send, client)
        result.record(time.perf_counter() - scheduled, error)

    async with _client(base_url, max_in_flight, headers) as client:
        begin = time.perf_counter()
        tasks = []
        for i in range(max(1, int(rate * duration))):
            scheduled = begin + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(client, scheduled)))
        await asyncio.gather(*tasks)
        result.elapsed = time.perf_counter() - begin
    return result


# --- seeding -------------------------------------------------------------------------


def seed_active_loans(
    *,
    customers: int,
    loans_per_customer: int,
    amount: str = "5000000.00",
    interest_rate: str = "0.10",
    term_weeks: int = 50,
    taken_days_ago: int = 70,
) -> None:
    """Empty the ledger and load ``customers`` × ``loans_per_customer`` active, unpaid loans.

    Set-based SQL in one transaction: customers ``bc-0000001``…, loans
    ``bl-00000001``… (customer *c* owns loans (c−1)·L+1 … c·L) taken
    ``taken_days_ago`` days ago a second apart, with their full weekly schedule;
    ``paid_amount`` 0 and ``outstanding`` = ``total_amount``, as the check
    constraints and the ledger triggers require of a loan without payments.
    """
    from decimal import Decimal

    from django.conf import settings
    from django.db import connection, transaction
    from django.db.models import DateField

    from billing.schedule import make_terms
    from customers.models import Customer
    from loans import expressions
    from loans.models import Installment, Loan, PortfolioClose, PortfolioCloseBand
    from mo_loans.models import IdempotencyKey
    from payments.models import Payment, PaymentDetail

    # Every loan has the same terms, made as the service makes them.
    terms = make_terms(
        amount=Decimal(amount), interest_rate=Decimal(interest_rate), term_weeks=term_weeks
    )
    start = expressions.Column("(l.taken_at AT TIME ZONE %(tz)s)::date", DateField())
    due, due_params = expressions.sql(
        expressions.due_date(start, expressions.Column("k", expressions.INTEGER))
    )
    taken_on = expressions.Column("(taken_at AT TIME ZONE %(tz)s)::date", DateField())
    last_due, last_due_params = expressions.sql(expressions.due_date(taken_on, term_weeks))

    t_customer, t_loan = Customer._meta.db_table, Loan._meta.db_table
    t_installment = Installment._meta.db_table
    tables = (
        PaymentDetail,
        Payment,
        Installment,
        Loan,
        Customer,
        PortfolioCloseBand,
        PortfolioClose,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"TRUNCATE {', '.join(m._meta.db_table for m in tables)}, "
            f"{IdempotencyKey._meta.db_table} RESTART IDENTITY"
        )
        cursor.execute(
            f"""
            INSERT INTO {t_customer}
                (id, external_id, score, status, preapproved_at, name, email,
                 created_at, updated_at)
            SELECT c, 'bc-' || lpad(c::text, 7, '0'), 1000000000, 1, NULL,
                   'Bench customer ' || c, '', now() - interval '500 days', now()
            FROM generate_series(1, %(customers)s) AS c
            """,
            {"customers": customers},
        )
        cursor.execute(
            f"""
            WITH terms AS (
                SELECT i, (i - 1) / %(per)s + 1 AS customer_id,
                       now() - make_interval(days => %(days)s, secs => i) AS taken_at
                FROM generate_series(1, %(loans)s) AS i
            )
            INSERT INTO {t_loan}
                (id, external_id, customer_id, amount, interest_rate, term_weeks, total_amount,
                 installment_amount, paid_amount, outstanding, status, contract_version,
                 taken_at, start_date, maximum_payment_date, activated_at, created_at,
                 updated_at)
            SELECT i, 'bl-' || lpad(i::text, 8, '0'), customer_id, %(amount)s, %(rate)s,
                   %(weeks)s, %(total)s, %(installment)s, 0, %(total)s, 2, 'bench', taken_at,
                   (taken_at AT TIME ZONE %(tz)s)::date,
                   {last_due},
                   taken_at, taken_at - interval '1 hour', now()
            FROM terms ORDER BY i
            """,
            {
                "per": loans_per_customer,
                "loans": customers * loans_per_customer,
                "days": taken_days_ago,
                "amount": terms.amount,
                "rate": terms.interest_rate,
                "weeks": terms.term_weeks,
                "total": terms.total_amount,
                "installment": terms.installment_amount,
                **last_due_params,
                "tz": settings.TIME_ZONE,
            },
        )
        cursor.execute(
            f"""
            INSERT INTO {t_installment} (loan_id, number, due_date, amount)
            SELECT l.id, k, {due},
                   CASE WHEN k = l.term_weeks THEN %(last)s ELSE l.installment_amount END
            FROM {t_loan} l CROSS JOIN LATERAL generate_series(1, l.term_weeks) AS k
            ORDER BY l.id, k
            """,
            {"tz": settings.TIME_ZONE, "last": terms.last_installment_amount, **due_params},
        )
        for table in (t_customer, t_loan):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
            )
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
