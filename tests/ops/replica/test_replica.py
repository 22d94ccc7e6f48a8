"""A real streaming replica (tests/ops/replica/pg_servers.py): what reads it serves, and when not.

Every test commits (``transaction=True``): the replica only sees committed WAL.
Lag checks are made on every request (``DATABASE_REPLICA_CHECK_SECONDS=0``)
unless a test says otherwise.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.signals import request_started
from django.db import connections, reset_queries, transaction
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from customers.models import Customer
from mo_loans import db_router
from mo_loans.db import write_transaction
from mo_loans.db_router import REPLICA, health, replica_reads
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan
from tests.ops.replica.aliases import add_replica_alias, point_at, remove_replica_alias, restore
from tests.ops.replica.pg_servers import primary_of

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", REPLICA])

LEDGER_TABLES = ("customers_customer", "loans_loan", "loans_installment", "payments_payment")


@pytest.fixture(scope="module", autouse=True)
def replica_alias(standby):
    """The ``replica`` alias, on the standby, before pytest-django checks ``databases``."""
    add_replica_alias(host="127.0.0.1", port=standby.port)
    yield
    remove_replica_alias()


@pytest.fixture(autouse=True)
def _checked_every_request(settings, standby):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 0
    settings.DATABASE_REPLICA_RETRY_SECONDS = 0
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 2
    health.clear()
    yield
    health.clear()
    if not standby.running:  # a test stopped it: start it again for the next one
        standby.start()
    standby.resume_replay()


class Capture:
    """The SQL one alias ran during the block (CaptureQueriesContext, without connecting)."""

    def __init__(self, alias: str) -> None:
        self.connection = connections[alias]

    def __enter__(self) -> Capture:
        self.connection.force_debug_cursor = True
        request_started.disconnect(reset_queries)  # as CaptureQueriesContext does
        self.start = len(self.connection.queries_log)
        return self

    def __exit__(self, *exc) -> None:
        self.connection.force_debug_cursor = False
        request_started.connect(reset_queries)
        self.captured_queries = list(self.connection.queries_log)[self.start :]


class Queries:
    """The SQL each server ran during the block, by alias."""

    def __enter__(self) -> Queries:
        self.primary = Capture("default").__enter__()
        self.replica = Capture(REPLICA).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.replica.__exit__(*exc)
        self.primary.__exit__(*exc)

    @staticmethod
    def _ledger(capture: Capture) -> list[str]:
        sqls = [query["sql"] for query in capture.captured_queries]
        return [sql for sql in sqls if any(table in sql for table in LEDGER_TABLES)]

    @property
    def ledger_on_primary(self) -> list[str]:
        return self._ledger(self.primary)

    @property
    def ledger_on_replica(self) -> list[str]:
        return self._ledger(self.replica)


@pytest.fixture
def loan(standby):
    """An active loan with one payment, replayed on the replica."""
    customer = CustomerFactory(external_id="R1", score=Decimal("100000000"))
    loan = make_loan(
        customer=customer,
        external_id="RL1",
        amount="1000",
        interest_rate="0",
        term_weeks=10,
        taken_at=timezone.now() - timedelta(days=20),
    )
    payment_make(external_id="RP1", customer_external_id="R1", total_amount=Decimal("150"))
    standby.wait_caught_up()
    return loan


def test_the_replica_alias_is_a_standby_on_its_own_port(standby):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port(), current_database()")
        in_recovery, port, database = cursor.fetchone()
    assert in_recovery is True
    assert port == standby.port
    assert database == connections["default"].settings_dict["NAME"]


READ_ONLY_ROUTES = [
    "/api/customers/R1",
    "/api/customers?page_size=50",
    "/api/customers/balance?page_size=50",
    "/api/customers/R1/balance",
    "/api/customers/R1/loans",
    "/api/customers/R1/payments",
    "/api/loans?page_size=50",
    "/api/loans?page_size=50&include=state",
    "/api/loans/RL1",
    "/api/loans/RL1/schedule",
    "/api/loans/RL1/transactions",
    "/api/loans/RL1/delinquency",
    "/api/payments",
    "/api/payments/RP1",
    "/api/portfolio",
]


@pytest.mark.parametrize("path", READ_ONLY_ROUTES)
def test_read_only_requests_read_the_ledger_on_the_replica(client, loan, path):
    with Queries() as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    assert queries.ledger_on_replica
    assert queries.ledger_on_primary == []
    # The API key is never read on the replica: a revoked key is refused at once.
    assert not any("rest_framework_api_key" in q["sql"] for q in queries.replica.captured_queries)


def test_a_read_answers_what_the_primary_would(client, loan):
    on_replica = client.get("/api/customers/R1/balance").json()
    # Inside a transaction on the primary, reads never go to the replica.
    with transaction.atomic(), Queries() as queries:
        on_primary = client.get("/api/customers/R1/balance").json()
    assert on_primary == on_replica
    assert queries.ledger_on_replica == [] and queries.ledger_on_primary


def test_writes_and_their_idempotency_keys_use_the_primary_only(client, loan):
    payload = {"external_id": "RP2", "customer_external_id": "R1", "total_amount": "10.00"}
    with Queries() as queries:
        first = client.post("/api/payments", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
        again = client.post("/api/payments", payload, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201, first.content
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert queries.replica.captured_queries == []


def test_in_a_read_scope_writes_and_what_follows_them_go_to_the_primary(loan):
    with replica_reads(), Queries() as queries:
        assert Customer.objects.get(external_id="R1").external_id == "R1"  # replica
        assert APIKey.objects.count() >= 0  # not a ledger app: primary
        with write_transaction():
            Customer.objects.select_for_update().get(external_id="R1")  # a write's read
        Customer.objects.filter(external_id="R1").update(name="Renamed")
        assert Customer.objects.get(external_id="R1").name == "Renamed"  # after a write
    replica_sql = [q["sql"] for q in queries.replica.captured_queries]
    customer_reads = [sql for sql in replica_sql if "customers_customer" in sql]
    assert len(customer_reads) == 1
    assert not any("rest_framework_api_key" in sql for sql in replica_sql)
    assert not any("FOR UPDATE" in sql or "UPDATE " in sql for sql in replica_sql)


def test_outside_a_read_scope_nothing_reads_on_the_replica(loan):
    with Queries() as queries:
        Customer.objects.get(external_id="R1")
    assert queries.replica.captured_queries == []


def test_a_lagging_replica_serves_now_only_within_the_max_lag(client, loan, settings, standby):
    standby.pause_replay()
    CustomerFactory(external_id="NEW", score=Decimal("1000"))  # committed; not replayed
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 3600
    stale = client.get("/api/customers/NEW")
    assert stale.status_code == 404  # within the allowed lag the replica answers, stale
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0
    with Queries() as queries:
        fresh = client.get("/api/customers/NEW")
    assert fresh.status_code == 200, fresh.content
    assert queries.ledger_on_replica == []
    standby.resume_replay()
    standby.wait_caught_up()
    with Queries() as queries:
        caught_up = client.get("/api/customers/NEW")
    assert caught_up.status_code == 200
    assert queries.ledger_on_replica and queries.ledger_on_primary == []


def test_a_past_known_at_is_served_by_a_replica_that_replayed_past_it(
    client,
    loan,
    settings,
    standby,
    monkeypatch,
):
    monkeypatch.setattr(db_router, "IN_FLIGHT_MARGIN", timedelta(0))
    settings.DATABASE_REPLICA_MAX_LAG_SECONDS = 0
    before = timezone.now()
    CustomerFactory(external_id="MARK", score=Decimal("1000"))  # a commit after `before`
    standby.wait_caught_up()
    standby.pause_replay()
    payment_make(external_id="RP3", customer_external_id="R1", total_amount=Decimal("5"))
    known_at = before.isoformat()
    with Queries() as queries:
        past = client.get("/api/customers/R1/balance", {"known_at": known_at})
    assert past.status_code == 200, past.content
    assert queries.ledger_on_replica and queries.ledger_on_primary == []
    now = timezone.now().isoformat()
    with Queries() as queries:
        recent = client.get("/api/customers/R1/balance", {"known_at": now})
    assert recent.status_code == 200, recent.content
    assert queries.ledger_on_replica == []  # the replica has not replayed that far
    # Both answers are exact: the payment recorded after `before` shows only in the second.
    assert past.json() != recent.json()
    monkeypatch.setattr(db_router, "IN_FLIGHT_MARGIN", timedelta(days=1))
    with Queries() as queries:
        client.get("/api/customers/R1/balance", {"known_at": known_at})
    assert queries.ledger_on_replica == []  # not replayed a margin past it: primary


def test_a_stopped_replica_leaves_reads_working_from_the_primary(client, loan, standby):
    assert client.get("/api/loans/RL1").status_code == 200  # the replica's connection is open
    standby.stop()
    with Queries() as queries:
        response = client.get("/api/loans/RL1")
    assert response.status_code == 200, response.content
    assert queries.ledger_on_primary and queries.ledger_on_replica == []
    assert not health.status().usable


def test_a_replica_that_dies_mid_request_is_retried_on_the_primary(
    client,
    loan,
    settings,
    standby,
):
    settings.DATABASE_REPLICA_CHECK_SECONDS = 3600  # the check says "fine" for the whole test
    assert client.get("/api/loans/RL1").status_code == 200
    assert health.status().usable
    standby.stop()  # between two checks: the next request finds its connection broken
    with Queries() as queries:
        response = client.get("/api/loans/RL1/schedule")
    assert response.status_code == 200, response.content
    assert queries.ledger_on_primary
    assert not health.status().usable  # marked down: the next request does not try it
    with Queries() as queries:
        assert client.get("/api/loans/RL1").status_code == 200
    assert queries.replica.captured_queries == []


def test_a_server_that_is_not_a_standby_is_never_read_from(client, loan, standby):
    primary = connections["default"].settings_dict
    remove_replica_alias()
    try:
        add_replica_alias(host=primary["HOST"] or "127.0.0.1", port=int(primary["PORT"] or 5432))
        with Queries() as queries:
            response = client.get("/api/loans/RL1")
        assert response.status_code == 200
        assert queries.ledger_on_replica == []
        status = health.status()
        assert not status.usable and "not a standby" in status.reason
    finally:
        remove_replica_alias()
        add_replica_alias(host="127.0.0.1", port=standby.port)


def test_reads_reach_the_replica_through_its_own_pool(bouncer_for, standby, client):
    settings_dict = connections["default"].settings_dict
    name = settings_dict["NAME"]
    CustomerFactory(external_id="via-pool", score=Decimal("1000"))
    standby.wait_caught_up()
    bouncer = bouncer_for(
        {name: (primary_of(settings_dict), name), f"{name}_replica": (standby.server, name)}
    )
    saved = point_at("default", port=bouncer.port, name=name)
    saved_replica = point_at(REPLICA, port=bouncer.port, name=f"{name}_replica")
    try:
        replica = connections[REPLICA]
        response = client.get("/api/customers/via-pool")
        assert response.status_code == 200, response.content
        with replica.cursor() as cursor:
            cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
            assert cursor.fetchone() == (True, standby.port)
        pools = {row["database"]: row for row in bouncer.show("STATS")}
        assert pools[f"{name}_replica"]["total_query_count"] >= 2  # the lag check and the read
    finally:
        restore(REPLICA, saved_replica)
        restore("default", saved)
