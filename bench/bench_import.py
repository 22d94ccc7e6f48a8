"""Bulk customer import: ``import_customers`` against a plain COPY, and the bulk endpoint.

    make bench BENCH=import
    BENCH_IMPORT_ROWS=200000 BENCH_REPEAT=1 .venv/bin/python bench/bench_import.py   # quicker

1. Writes a CSV of BENCH_IMPORT_ROWS (default 1,000,000) customers under
   bench/data/ (git-ignored; kept for the next run).
2. Times ``manage.py import_customers`` on it into an empty customers table, as
   a subprocess whose peak memory (max RSS) is read from the kernel, and, in the
   same run, a plain ``COPY`` of the same file into a scratch table shaped like
   customers_customer (same columns, indexes and constraints): the physical
   limit. Runs alternate, BENCH_REPEAT (default 5) times each; medians are quoted,
   and the ratio (COPY seconds / the import's whole-process seconds) pair by pair.
3. Times ``POST /api/customers/bulk`` with 10,000 JSON rows through Django's
   test client (the whole middleware, parser and view stack), 5 times.

Everything happens in its own database, ``mo_loans_bench_import``, so dev and
test data are never touched. Exits non-zero when a goal is missed.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATABASE = "mo_loans_bench_import"
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
BULK_ROWS = 10_000
BULK_REPEAT = 5
DATA = REPO / "bench" / "data" / f"customers_{ROWS}.csv"

GOAL_ROWS_PER_SECOND = 100_000
GOAL_COPY_RATIO = 0.5
GOAL_PEAK_MB = 200
GOAL_BULK_SECONDS = 1.0

sys.path.insert(0, str(REPO / "bench"))

from common import recreate_database, setup_django  # noqa: E402

# The benchmark creates and empties tables as the database's owner; the import
# subprocess connects as the app role, as it does in production.
setup_django(DATABASE)

from django.db import connection  # noqa: E402


def customer_row(i: int, rnd: random.Random) -> dict[str, str]:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    preapproved = start + timedelta(minutes=rnd.randrange(0, 900_000))
    return {
        "external_id": f"cust-{i:08d}",
        "score": f"{rnd.randrange(0, 10**9) // 100}.{rnd.randrange(100):02d}",
        "preapproved_at": preapproved.strftime("%Y-%m-%dT%H:%M:%SZ") if i % 2 else "",
        "name": f"Customer {i}",
        "email": f"customer{i}@example.com",
    }


def write_csv(path: Path, rows: int) -> None:
    """Every column filled on most rows (emails and dates are the dearest checks)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(5)
    partial = path.with_suffix(".partial")
    with partial.open("w", encoding="utf-8", newline="") as file:
        file.write("external_id,score,preapproved_at,name,email\n")
        for i in range(rows):
            row = customer_row(i, rnd)
            file.write(",".join(row.values()) + "\n")
    partial.rename(path)


def empty_customers() -> None:
    assert connection.settings_dict["NAME"] == DATABASE  # never anybody else's data
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_customer RESTART IDENTITY CASCADE")


def count_customers() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        return cursor.fetchone()[0]


def time_import() -> tuple[float, float]:
    """Wall seconds of the whole command, and the seconds it reports for the import."""
    empty_customers()
    connection.close()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "manage.py", "import_customers", str(DATA)],
        cwd=REPO,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"import_customers failed:\n{done.stdout}\n{done.stderr}")
    found = re.search(r"rows in ([0-9.]+) s", done.stdout)
    if not found or count_customers() != ROWS:
        sys.exit(f"import_customers did not import {ROWS} rows:\n{done.stdout}")
    return wall, float(found.group(1))


def time_plain_copy() -> float:
    """A bare COPY of the file into a scratch twin of customers_customer."""
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_scratch")
        cursor.execute("CREATE TABLE bench_copy_scratch (LIKE customers_customer INCLUDING ALL)")
        for column, default in [
            ("status", "1"),
            ("name", "''"),
            ("email", "''"),
            ("created_at", "now()"),
            ("updated_at", "now()"),
        ]:
            cursor.execute(
                f"ALTER TABLE bench_copy_scratch ALTER COLUMN {column} SET DEFAULT {default}"
            )
        started = time.perf_counter()
        statement = (
            "COPY bench_copy_scratch (external_id, score, preapproved_at, name, email)"
            " FROM STDIN (FORMAT csv, HEADER true)"
        )
        with DATA.open("rb") as file, cursor.copy(statement) as copy:
            while chunk := file.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        cursor.execute("SELECT count(*) FROM bench_copy_scratch")
        copied = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench_copy_scratch")
    if copied != ROWS:
        sys.exit(f"plain COPY stored {copied} rows, not {ROWS}")
    return seconds


def time_bulk_endpoint() -> list[float]:
    from rest_framework.test import APIClient
    from rest_framework_api_key.models import APIKey

    _, key = APIKey.objects.create_key(name="bench-import")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    rnd = random.Random(7)
    rows = [customer_row(i, rnd) for i in range(BULK_ROWS)]
    for row in rows:
        row["preapproved_at"] = row["preapproved_at"] or None
    body = json.dumps(rows)
    timings = []
    for _ in range(BULK_REPEAT):
        empty_customers()
        started = time.perf_counter()
        response = client.post("/api/customers/bulk", body, content_type="application/json")
        timings.append(time.perf_counter() - started)
        if response.status_code != 201 or response.json() != {"created": BULK_ROWS}:
            sys.exit(f"bulk endpoint failed: {response.status_code} {response.content[:500]!r}")
    return timings


def main() -> int:
    recreate_database()
    if not DATA.exists():
        print(f"writing {DATA.relative_to(REPO)} ({ROWS:,} rows)…", flush=True)
        write_csv(DATA, ROWS)
    size_mb = DATA.stat().st_size / 1e6
    print(f"{ROWS:,} rows, {size_mb:.0f} MB; {REPEAT} runs each, alternating", flush=True)

    copies, walls, inner = [], [], []
    for _ in range(REPEAT):
        copies.append(time_plain_copy())
        wall, reported = time_import()
        walls.append(wall)
        inner.append(reported)
        print(
            f"  plain COPY {copies[-1]:.2f} s, import {wall:.2f} s whole process"
            f" ({reported:.2f} s as it reports itself): ratio {copies[-1] / wall:.2f}",
            flush=True,
        )
    # Linux reports ru_maxrss in KiB: the largest of the import subprocesses.
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    bulk = time_bulk_endpoint()
    empty_customers()

    copy_s, import_s, wall_s = (statistics.median(x) for x in (copies, inner, walls))
    # The goal compares whole processes: the command from start to exit against the COPY.
    # Pair by pair (each COPY with the import right after it), then the median.
    pairs = [c / w for c, w in zip(copies, walls, strict=True)]
    ratio = statistics.median(pairs)
    bulk_s = statistics.median(bulk)
    results = [
        ("plain COPY", f"{copy_s:.2f} s", f"{ROWS / copy_s:,.0f} rows/s", ""),
        (
            "import_customers",
            f"{import_s:.2f} s",
            f"{ROWS / import_s:,.0f} rows/s",
            f"goal ≥ {GOAL_ROWS_PER_SECOND:,}",
        ),
        (
            "import_customers, whole process",
            f"{wall_s:.2f} s",
            f"{ROWS / wall_s:,.0f} rows/s",
            "incl. Python and Django start-up",
        ),
        (
            "import (whole process) / plain COPY speed",
            "",
            f"{ratio:.2f}",
            f"goal ≥ {GOAL_COPY_RATIO}; pairs {', '.join(f'{r:.2f}' for r in pairs)}",
        ),
        ("import peak memory (max RSS)", "", f"{peak_mb:.0f} MB", f"goal < {GOAL_PEAK_MB} MB"),
        (
            f"POST /api/customers/bulk, {BULK_ROWS:,} rows",
            f"{bulk_s:.3f} s",
            f"{BULK_ROWS / bulk_s:,.0f} rows/s",
            f"goal < {GOAL_BULK_SECONDS:.0f} s; runs {', '.join(f'{b:.2f}' for b in bulk)}",
        ),
    ]
    widths = [max(len(r[i]) for r in results) for i in range(4)]
    for row in results:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))

    missed = [
        name
        for name, ok in [
            ("rows/s", ROWS / import_s >= GOAL_ROWS_PER_SECOND),
            ("ratio to COPY", ratio >= GOAL_COPY_RATIO),
            ("peak memory", peak_mb < GOAL_PEAK_MB),
            ("bulk endpoint", bulk_s < GOAL_BULK_SECONDS),
        ]
        if not ok
    ]
    print("all goals met" if not missed else f"MISSED: {', '.join(missed)}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
