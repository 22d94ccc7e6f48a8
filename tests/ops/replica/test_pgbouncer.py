"""The API through Debian's PgBouncer in transaction mode, in front of the primary and the replica.

Two server connections per pool and more client threads than that: every
request's transactions share server connections with other clients', as in
production behind a pooler. What must hold there: writes, idempotency keys and
their transaction-scoped advisory locks stay exact, no lock or setting outlives
its transaction, and reads still reach the replica.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connections
from django.db.models import Sum
from rest_framework.test import APIClient

from loans.models import Loan
from payments.models import Payment, PaymentDetail
from tests.factories import CustomerFactory, make_loan
from tests.ops.replica.aliases import point_at, restore
from tests.ops.replica.pg_servers import primary_of
from tests.payments.conftest import taken

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pooled(transactional_db, bouncer_for):
    """The ``default`` alias through PgBouncer (one pool, two server connections)."""
    settings_dict = connections["default"].settings_dict
    name = settings_dict["NAME"]
    primary = primary_of(settings_dict)
    bouncer = bouncer_for({name: (primary, name)})
    saved = point_at("default", port=bouncer.port, name=name)
    yield bouncer, primary
    restore("default", saved)


def fire(api_key: str, requests: list, threads: int = 8) -> list[tuple[int, dict, bool]]:
    """POST every (path, payload, headers) from ``threads`` threads started together."""
    barrier = threading.Barrier(threads)
    results, lock = [], threading.Lock()

    def worker(chunk):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        try:
            barrier.wait(timeout=30)
            for path, payload, headers in chunk:
                response = client.post(path, payload, format="json", **headers)
                replayed = response.get("Idempotent-Replayed") == "true"
                with lock:
                    results.append((response.status_code, response.json(), replayed))
        finally:
            connections["default"].close()

    pool = [threading.Thread(target=worker, args=(requests[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in pool)
    return results


def advisory_locks_held(primary) -> int:
    """Advisory locks held on the primary right now, by any session (asked directly)."""
    with primary.connect() as conn:
        return conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'").fetchone()[
            0
        ]


def test_clients_share_two_server_connections_transaction_by_transaction(pooled):
    pooled, _ = pooled
    clients = [
        psycopg.connect(
            host="127.0.0.1",
            port=pooled.port,
            user=connections["default"].settings_dict["USER"],
            dbname=connections["default"].settings_dict["NAME"],
            autocommit=True,
        )
        for _ in range(5)
    ]
    try:
        for conn in clients:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        servers = [s for s in pooled.show("SERVERS") if s["database"] != "pgbouncer"]
        assert len(pooled.show("CLIENTS")) >= 5
        assert 1 <= len(servers) <= 2
        (config,) = [row for row in pooled.show("CONFIG") if row["key"] == "pool_mode"]
        assert config["value"] == "transaction"
    finally:
        for conn in clients:
            conn.close()


def test_payments_with_idempotency_keys_stay_exact_through_the_pooler(pooled, api_key):
    pooled, primary = pooled
    for c in range(4):
        customer = CustomerFactory(external_id=f"pc{c}", score=Decimal("1000000"))
        make_loan(
            customer=customer,
            external_id=f"pl{c}",
            amount="1000",
            interest_rate="0",
            term_weeks=10,
            taken_at=taken(15),
        )
    requests = []
    for i in range(40):
        payload = {
            "external_id": f"pp{i}",
            "customer_external_id": f"pc{i % 4}",
            "total_amount": "7",
        }
        # Every payment sent twice with its key: the second is a replay or a 409 while the
        # first runs, never a second payment.
        requests += [("/api/payments", payload, {"HTTP_IDEMPOTENCY_KEY": f"key-{i}"})] * 2
    results = fire(api_key, requests)
    statuses = Counter(status for status, _, _ in results)
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 40
    assert Payment.objects.count() == 40
    assert Payment.objects.aggregate(s=Sum("total_amount"))["s"] == Decimal("280")
    for loan in Loan.objects.all():
        paid = PaymentDetail.current.filter(loan=loan).aggregate(s=Sum("amount"))["s"]
        assert loan.paid_amount == paid == Decimal("70")
    # pg_try_advisory_xact_lock ends with its transaction: nothing left on a pooled server.
    assert advisory_locks_held(primary) == 0
    stats = {row["database"]: row for row in pooled.show("STATS")}
    assert stats[connections["default"].settings_dict["NAME"]]["total_xact_count"] > 80


SESSION_LEVEL = re.compile(
    r"pg_(try_)?advisory_lock(_shared)?\s*\(|\bLISTEN\b|\bWITH HOLD\b|\bPREPARE\b", re.IGNORECASE
)


def test_request_code_uses_no_session_level_state():
    """Advisory locks are ``_xact_`` ones; no LISTEN, held cursors or prepared statements.

    (``import_customers`` and ``migrate`` connect to PostgreSQL directly: docs/operations.md.)
    """
    offenders = []
    for app in ("customers", "loans", "payments", "billing", "mo_loans"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if SESSION_LEVEL.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
