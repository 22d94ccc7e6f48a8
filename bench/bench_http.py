"""Issue 14 benchmark: every hot HTTP route as a ratio to the ping route, driven by ``wrk``.

    make bench-http

1. Seeds its own database (``mo_loans_bench_http``): 1,000 customers, each with
   one active 50-week loan (5,000,000 at 10 %, taken 70 days ago), a third of
   them with 1-9 instalments paid through ``payment_make``.
2. Serves the API with the project's gunicorn (gunicorn.conf.py defaults: 2
   workers, 4 threads each), ``MO_LOANS_BARE_PING=1`` adding ``/bare/healthz``
   (the ping view with none of the project's middleware, same process).
3. Loads each route with Debian's ``wrk`` (one thread, ``c`` keep-alive
   connections, closed loop), Lua scripts in ``bench/wrk/``: random ids for the
   GETs, a unique ``external_id`` and ``Idempotency-Key`` per POST. ``c`` = 1, 8
   and 32; ``ROUNDS`` rounds, the route order reversed every other round so that
   drift on the shared machine hits every route alike. Quoted: the median rate,
   the median of the per-round ratios to ``/healthz`` (same ``c``), and p99.
4. Half saturation: each route again at about half its best median rate (8
   connections with a think time between requests), its p99 reported.
5. Per-worker request counts of every ``c`` = 32 run (from the Prometheus
   multiprocess files, one per worker pid): both workers within 20 %?
6. ``py-spy record`` on both workers while the routes in ``BENCH_HTTP_PROFILE``
   run at ``c`` = 8, and a summary of where the time went.
7. Fails (non-zero exit) on any error, wrong status or socket error.

Knobs: ``BENCH_HTTP_SECONDS`` (per run, default 3), ``BENCH_HTTP_ROUNDS``
(default 3), ``BENCH_HTTP_CONCURRENCY`` (default ``1,8,32``),
``BENCH_HTTP_ROUTES`` (default all), ``BENCH_HTTP_PROFILE`` (routes to
profile, default ``payment,loans``; empty: none).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from common import (
    REPO,
    BenchError,
    Gunicorn,
    create_api_key,
    print_table,
    recreate_database,
    seed_active_loans,
    setup_django,
    worker_pids,
)

DATABASE = "mo_loans_bench_http"
CUSTOMERS = 1000
SECONDS = float(os.environ.get("BENCH_HTTP_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_HTTP_ROUNDS", "3"))
CONCURRENCY = [int(c) for c in os.environ.get("BENCH_HTTP_CONCURRENCY", "1,8,32").split(",")]
PROFILE = [n for n in os.environ.get("BENCH_HTTP_PROFILE", "payment,loans").split(",") if n]
HALF_SECONDS = 5.0
HALF_CONNECTIONS = 8
PROFILE_SECONDS = 8
WRK_DIR = REPO / "bench" / "wrk"
# Throughput goals as a fraction of ping's (issue 14); ping's own is against the bare route.
GOALS = {
    "loan": 0.45,
    "balance": 0.45,
    "loans": 0.25,
    "customers": 0.25,
    "payment": 0.25,
    "customer_create": 0.30,
}
PING_GOAL = 0.85
P99_GOAL_MS = 50.0
BALANCE_GOAL = 0.20  # the busiest worker serves at most 20 % more than the other

setup_django(DATABASE)

from payments.services import payment_make  # noqa: E402


@dataclass(frozen=True)
class Route:
    name: str
    label: str
    script: str
    env: dict[str, str] = field(default_factory=dict)
    expect: int = 200


ROUTES = [
    Route("bare", "GET /bare/healthz (no middleware)", "get.lua", {"WRK_PATH": "/bare/healthz"}),
    Route("ping", "GET /healthz", "get.lua", {"WRK_PATH": "/healthz"}),
    Route(
        "loan",
        "GET /api/loans/{id}",
        "get.lua",
        {"WRK_PATH": "/api/loans/bl-%08d", "WRK_IDS": str(CUSTOMERS)},
    ),
    Route(
        "balance",
        "GET /api/customers/{id}/balance",
        "get.lua",
        {"WRK_PATH": "/api/customers/bc-%07d/balance", "WRK_IDS": str(CUSTOMERS)},
    ),
    Route(
        "loans", "GET /api/loans?page_size=50", "get.lua", {"WRK_PATH": "/api/loans?page_size=50"}
    ),
    Route(
        "customers",
        "GET /api/customers/?page_size=50",
        "get.lua",
        {"WRK_PATH": "/api/customers/?page_size=50"},
    ),
    Route("payment", "POST /api/payments", "payment.lua", {"WRK_IDS": str(CUSTOMERS)}, 201),
    Route("customer_create", "POST /api/customers/", "customer.lua", {}, 201),
]
_wanted = os.environ.get("BENCH_HTTP_ROUTES")
if _wanted:
    ROUTES = [r for r in ROUTES if r.name in {"bare", "ping", *_wanted.split(",")}]
BY_NAME = {route.name: route for route in ROUTES}


@dataclass(frozen=True)
class Run:
    """One wrk run, as its Lua ``done()`` reported it."""

    requests: int
    seconds: float
    errors: int  # socket errors, HTTP >= 400, and answers with another status than expected
    p50_ms: float
    p99_ms: float
    sample: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise BenchError(
            "wrk is not installed: `make bench-http` installs it (apt-get install wrk)"
        )
    return found


def wrk(
    server: Gunicorn,
    route: Route,
    *,
    connections: int,
    seconds: float,
    auth: str,
    delay_ms: float = 0.0,
) -> Run:
    env = (
        os.environ
        | route.env
        | {
            "WRK_AUTH": auth,
            "WRK_EXPECT": str(route.expect),
            "WRK_RUN": uuid.uuid4().hex[:10],
            "WRK_DELAY_MS": f"{delay_ms:.0f}",
        }
    )
    command = [wrk_binary(), "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s"]
    command += ["--timeout", "30s", "-s", str(WRK_DIR / route.script), server.url]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise BenchError(
            f"wrk failed ({done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}"
        )
    data = json.loads(line.removeprefix("WRK_JSON "))
    # "wrong" counts every answer whose status is not the expected one (4xx/5xx too).
    errors = sum(data[k] for k in ("connect", "read", "write", "timeout")) + data["wrong"]
    return Run(
        requests=data["requests"] - data["wrong"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        p50_ms=data["p50_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        sample=data["sample"],
    )


# --- per-worker request counts -------------------------------------------------------------


def requests_by_pid(metrics_dir: Path) -> Counter[int]:
    """Requests each worker pid has answered (the request histogram's files)."""
    from prometheus_client.mmap_dict import MmapedDict

    counts: Counter[int] = Counter()
    for path in metrics_dir.glob("histogram_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, value, *_rest in MmapedDict.read_all_values_from_file(str(path)):
            name, sample, *_labels = json.loads(key)
            if name == "mo_loans_http_request_duration_seconds" and sample.endswith("_bucket"):
                counts[pid] += int(value)
    return counts


# --- seeding and profile ---------------------------------------------------------------


def seed() -> None:
    seed_active_loans(customers=CUSTOMERS, loans_per_customer=1)
    for n in range(3, CUSTOMERS + 1, 3):  # a third of them paid 1-9 instalments
        instalments = 1 + n % 9
        payment_make(
            external_id=f"seed-{n}",
            customer_external_id=f"bc-{n:07d}",
            total_amount=Decimal("110000.00") * instalments,
        )


def _short(frame: str) -> str:
    """``func (path/to/mod.py:12)`` → ``func (mod.py)``, paths made relative."""
    func, _, where = frame.partition(" (")
    path = where.rstrip(")").rpartition(":")[0]
    for marker in ("site-packages/", str(REPO) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{func} ({path})"


BUCKETS = [  # first match wins, from the leaf up: where a sample's time went
    ("idle: waiting for a connection, a request or a log line (gunicorn, gthread pool, log writer)",
     ("gunicorn/workers/sync.py", "selectors.py", "concurrent/futures/thread.py",
      # the log writer thread blocked on its queue (its writes have logging/ frames below)
      "BackgroundStreamHandler._write (mo_loans/logging_json.py)")),
    ("gunicorn: HTTP parsing, socket writes", ("gunicorn/",)),
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


def summarise_profile(route: Route, stacks: Counter, run: Run) -> None:
    total = sum(stacks.values())
    if not total:
        print("py-spy recorded no samples")
        return
    print(
        f"\nProfile of {route.label} at c = 8 ({run.rate:.0f} req/s, {run.errors} errors): "
        "py-spy, both workers, "
        f"{total} samples incl. idle\n"
    )
    buckets: Counter[str] = Counter()
    for stack, count in stacks.items():
        buckets[_bucket(stack)] += count
    print_table(
        ["where the worker's time went", "share"],
        [[label, f"{count / total:.0%}"] for label, count in buckets.most_common()],
    )
    busy = {s: c for s, c in stacks.items() if not _bucket(s).startswith("idle")}
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


def profile(server: Gunicorn, route: Route, auth: str) -> None:
    """``py-spy record`` both workers while ``route`` runs at c = 8; print a summary."""
    py_spy = shutil.which("py-spy") or str(REPO / ".venv" / "bin" / "py-spy")
    if not Path(py_spy).exists():
        print("py-spy is not installed: no profile (pip install -r dev-requirements.txt)")
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-http-profile-"))
    try:
        spies = []
        for pid in worker_pids(server.pid):
            out = folder / f"{pid}.txt"
            command = [py_spy, "record", "--pid", str(pid), "--duration", str(PROFILE_SECONDS)]
            command += ["--rate", "200", "--format", "raw", "--idle", "--output", str(out)]
            spies.append((out, subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.PIPE)))  # fmt: skip
        time.sleep(1.0)  # py-spy attaches
        run = wrk(server, route, connections=8, seconds=PROFILE_SECONDS - 2, auth=auth)
        stacks: Counter[tuple[str, ...]] = Counter()
        for out, spy in spies:
            _, err = spy.communicate(timeout=60)
            if spy.returncode != 0 or not out.exists():
                print(f"py-spy failed ({spy.returncode}): {err.decode(errors='replace')[-500:]}")
                return
            for line in out.read_text().splitlines():
                frames, _, count = line.rpartition(" ")
                stacks[tuple(frames.split(";"))] += int(count)
        summarise_profile(route, stacks, run)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ratio_table(rates, ratios, p99s, errors) -> list[list[object]]:
    rows = []
    for c in CONCURRENCY:
        for route in ROUTES:
            key = (route.name, c)
            base = "bare" if route.name == "ping" else "ping"
            rows.append(
                [
                    route.label,
                    c,
                    f"{rates[key]:.0f}",
                    "" if route.name in ("bare",) else f"{ratios[key]:.0%}",
                    f"{p99s[key]:.1f}",
                    errors[key],
                    base if route.name != "bare" else "",
                ]
            )
    return rows


def main() -> int:  # noqa: PLR0912 - one linear report
    wrk_binary()
    started = time.perf_counter()
    recreate_database()
    seed()
    key = create_api_key("bench-http")
    print(f"seeded {CUSTOMERS} customers and loans in {time.perf_counter() - started:.1f} s")
    auth = f"Api-Key {key}"
    runs: dict[tuple[str, int], list[Run]] = defaultdict(list)
    balance: dict[str, tuple[int, ...]] = {}
    failures: list[str] = []
    metrics_dir = Path(tempfile.mkdtemp(prefix="bench-http-metrics-"))
    env = {
        "DATABASE_NAME": DATABASE,
        "MO_LOANS_BARE_PING": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        # As in production: one JSON line per request (to the server's log file here).
        "LOG_LEVEL": "INFO",
        "LOG_FORMAT": "json",
    }
    try:
        with Gunicorn(env=env, workers=2) as server:
            for route in ROUTES:  # warm every worker, connection and cache
                wrk(server, route, connections=8, seconds=1, auth=auth)
            for rnd in range(1, ROUNDS + 1):
                order = ROUTES if rnd % 2 else ROUTES[::-1]
                for c in CONCURRENCY:
                    for route in order:
                        before = requests_by_pid(metrics_dir)
                        run = wrk(server, route, connections=c, seconds=SECONDS, auth=auth)
                        if c == max(CONCURRENCY) and route.name != "bare":
                            after = requests_by_pid(metrics_dir)
                            served = [after[pid] - before.get(pid, 0) for pid in after]
                            balance[f"{route.name} round {rnd}"] = tuple(sorted(served))
                        runs[(route.name, c)].append(run)
                        print(
                            f"round {rnd} c={c:<3} {route.label:36} {run.rate:7.0f} req/s "
                            f"p50 {run.p50_ms:6.1f} ms p99 {run.p99_ms:6.1f} ms "
                            f"errors {run.errors}",
                            flush=True,
                        )
                        if run.errors:
                            failures.append(f"{route.label} c={c}: {run.errors} ({run.sample})")
            rates = {k: statistics.median(r.rate for r in v) for k, v in runs.items()}
            half = {}
            for route in ROUTES:
                best = max(rates[(route.name, c)] for c in CONCURRENCY)
                single = statistics.median(r.p50_ms for r in runs[(route.name, min(CONCURRENCY))])
                # Each connection waits so that 8 of them offer about half the best rate.
                delay = max(0.0, 1000 * HALF_CONNECTIONS / (best / 2) - single)
                run = wrk(
                    server, route, connections=HALF_CONNECTIONS, seconds=HALF_SECONDS,
                    auth=auth, delay_ms=delay,
                )  # fmt: skip
                half[route.name] = (best / 2, run)
                print(
                    f"half saturation {route.label:36} offered ~{best / 2:5.0f} got "
                    f"{run.rate:5.0f} req/s p50 {run.p50_ms:5.1f} ms p99 {run.p99_ms:5.1f} ms "
                    f"errors {run.errors}",
                    flush=True,
                )
                if run.errors:
                    failures.append(f"{route.label} half: {run.errors} ({run.sample})")
            for name in PROFILE:
                if name in BY_NAME:
                    profile(server, BY_NAME[name], auth)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)

    def ratio(name: str, base: str, c: int) -> float:
        pairs = zip(runs[(name, c)], runs[(base, c)], strict=True)
        return statistics.median(run.rate / ref.rate for run, ref in pairs)

    ratios = {
        (r.name, c): ratio(r.name, "bare" if r.name == "ping" else "ping", c)
        for r in ROUTES
        for c in CONCURRENCY
        if r.name != "bare"
    }
    p99s = {k: statistics.median(r.p99_ms for r in v) for k, v in runs.items()}
    errors = {k: sum(r.errors for r in v) for k, v in runs.items()}
    print(
        f"\ngunicorn 2 workers x 4 threads; wrk 1 thread, closed loop; median of {ROUNDS} "
        f"rounds of {SECONDS:g} s; ratio: median of the per-round ratios to /healthz "
        "(/healthz itself: to /bare/healthz)\n"
    )
    print_table(
        ["route", "c", "req/s", "ratio", "p99 ms", "errors", "ratio to"],
        ratio_table(rates, ratios, p99s, errors),
    )
    print(f"\nhalf saturation: {HALF_CONNECTIONS} connections with think time\n")
    print_table(
        ["route", "offered req/s", "got req/s", "p50 ms", "p99 ms", "errors"],
        [
            [BY_NAME[n].label, f"{o:.0f}", f"{r.rate:.0f}", f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
             r.errors]
            for n, (o, r) in half.items()
        ],
    )  # fmt: skip
    print(f"\nrequests per worker at c = {max(CONCURRENCY)} (each run)\n")
    spread = []
    for label, counts in balance.items():
        low, high = (counts[0], counts[-1]) if len(counts) > 1 else (0, counts[0] if counts else 0)
        skew = high / low - 1 if low else float("inf")
        spread.append(skew)
        print(f"  {label:28} {' / '.join(map(str, counts)):>14}  busiest +{skew:.0%}")
    missed = []
    for name, goal in GOALS.items():
        if name not in BY_NAME:
            continue
        worst = min(ratios[(name, c)] for c in CONCURRENCY)
        if worst < goal:
            missed.append(f"{BY_NAME[name].label} down to {worst:.0%} of ping (goal {goal:.0%})")
    worst_ping = min(ratios[("ping", c)] for c in CONCURRENCY)
    if worst_ping < PING_GOAL:
        missed.append(f"ping down to {worst_ping:.0%} of the bare route (goal {PING_GOAL:.0%})")
    missed += [
        f"{BY_NAME[n].label} p99 {r.p99_ms:.1f} ms at half saturation (goal < {P99_GOAL_MS:g})"
        for n, (_, r) in half.items()
        if r.p99_ms >= P99_GOAL_MS
    ]
    if spread and statistics.median(spread) > BALANCE_GOAL:
        missed.append(f"workers' counts differ by {statistics.median(spread):.0%} (median)")
    print("\ngoals: " + ("all met" if not missed else "MISSED: " + "; ".join(missed)))
    if failures:
        raise BenchError("requests failed:\n  " + "\n  ".join(failures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
