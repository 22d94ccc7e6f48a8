"""Faults: the database going away and coming back, and a payment failing half way.

Requests go through the real WSGI application (not Django's test client, which
switches off the per-request connection housekeeping), so the connection
handling is the one production runs.
"""

import json
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone
from psycopg import sql
from rest_framework_api_key.models import APIKey
from werkzeug.test import Client

from loans.models import Loan
from mo_loans.models import IdempotencyKey
from mo_loans.wsgi import application
from payments import ledger
from payments.models import Payment, PaymentDetail
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db(transaction=True)

# A request must be answered well within this while the database is gone
# (connect_timeout is 5 s; refusals are immediate).
ANSWER_WITHIN = 6.0


@pytest.fixture
def wsgi(api_key):
    client = Client(application)

    def call(method, path, body=None, **headers):
        headers = {"Authorization": f"Api-Key {api_key}", **headers}
        data = None if body is None else json.dumps(body)
        started = time.monotonic()
        response = client.open(
            path, method=method, data=data, headers=headers, content_type="application/json"
        )
        response.elapsed = time.monotonic() - started
        return response

    return call


def admin_connection() -> psycopg.Connection:
    """A connection to the server's maintenance database, outside Django."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params["dbname"] = "postgres"
    return psycopg.connect(**params, autocommit=True)


@contextmanager
def database_gone():
    """Cut every connection to the test database and refuse new ones until the block ends."""
    name = connection.settings_dict["NAME"]
    assert name.startswith("test_"), "only ever block the test database"
    database = sql.Identifier(name)
    with admin_connection() as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(database))
        try:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            yield
        finally:
            admin.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(database))


def assert_database_unavailable(response):
    assert response.status_code == 503, response.data[:300]
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.get_json()
    assert body["code"] == "database_unavailable"
    assert body["message"]
    assert response.elapsed < ANSWER_WITHIN


def test_database_outage_is_503_json_and_the_service_recovers(wsgi):
    customer = CustomerFactory(external_id="c1")
    make_loan(customer=customer, external_id="l1", taken_at=timezone.now() - timedelta(days=1))
    payment = {"external_id": "p1", "customer_external_id": "c1", "total_amount": "10.00"}
    assert wsgi("GET", "/readyz").status_code == 200
    assert wsgi("GET", "/api/loans/l1").status_code == 200

    with database_gone():
        ready = wsgi("GET", "/readyz")
        assert_database_unavailable(ready)
        for _ in range(2):  # the broken connection, then a refused new one
            assert_database_unavailable(wsgi("GET", "/api/customers"))
            assert_database_unavailable(wsgi("GET", "/api/loans/l1"))
        assert_database_unavailable(wsgi("POST", "/api/payments", payment))
        # The idempotency middleware queries before any view runs.
        assert_database_unavailable(
            wsgi("POST", "/api/payments", payment, **{"Idempotency-Key": "outage-1"})
        )
        assert wsgi("GET", "/healthz").status_code == 200  # the process itself is fine

    # Back: no restart, no manual reconnect.
    assert wsgi("GET", "/readyz").get_json() == {"status": "ready"}
    assert wsgi("GET", "/api/loans/l1").status_code == 200
    retried = wsgi("POST", "/api/payments", payment, **{"Idempotency-Key": "outage-1"})
    assert retried.status_code == 201, retried.data
    assert Payment.objects.count() == 1


def test_unauthenticated_requests_during_an_outage_are_json_too(wsgi):
    with database_gone():
        response = Client(application).get("/api/customers", headers={"Authorization": "x"})
        assert response.status_code in {401, 503}
        assert response.headers["Content-Type"].startswith("application/json")
    assert wsgi("GET", "/readyz").status_code == 200


# --- a payment interrupted between its allocation steps -------------------------------------


@pytest.fixture
def two_active_loans():
    customer = CustomerFactory(external_id="payer", score=Decimal("100000000"))
    taken = timezone.now() - timedelta(weeks=3)
    first = make_loan(customer=customer, external_id="first", taken_at=taken)
    second = make_loan(customer=customer, external_id="second", taken_at=taken)
    return first, second


def loan_state(*loans):
    return list(
        Loan.objects.filter(pk__in=[loan.pk for loan in loans])
        .order_by("pk")
        .values_list("paid_amount", "outstanding", "status", "updated_at")
    )


def test_payment_interrupted_after_its_details_leaves_nothing_behind(
    wsgi, two_active_loans, monkeypatch
):
    """The details and the loans' totals are written (one statement), then the next step
    fails: all of it is rolled back."""
    before = loan_state(*two_active_loans)
    written = []
    original_write = ledger.write_rows_and_loans

    def write_then_die(rows, moved):
        original_write(rows, moved)
        written.extend(rows)
        assert PaymentDetail.objects.count() == len(written) > 0  # really half way
        raise RuntimeError("worker died between the allocation steps")

    monkeypatch.setattr(ledger, "write_rows_and_loans", write_then_die)
    body = {"external_id": "pay-1", "customer_external_id": "payer", "total_amount": "300000.00"}

    response = wsgi("POST", "/api/payments", body, **{"Idempotency-Key": "interrupted"})

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.get_json()["code"] == "server_error"
    assert len(written) == 2  # both loans were being paid
    assert Payment.objects.count() == 0
    assert PaymentDetail.objects.count() == 0
    assert loan_state(*two_active_loans) == before
    assert not IdempotencyKey.objects.exists()  # a 5xx is not kept: the client may retry

    monkeypatch.undo()
    retried = wsgi("POST", "/api/payments", body, **{"Idempotency-Key": "interrupted"})
    assert retried.status_code == 201, retried.data
    assert [d["amount"] for d in retried.get_json()["details"]] == ["190000.00", "110000.00"]
    assert PaymentDetail.objects.count() == 2


def test_payment_whose_connection_drops_mid_transaction_is_503_and_leaves_nothing(
    wsgi, two_active_loans, monkeypatch
):
    """The database connection is killed after the details are written, before the commit."""
    before = loan_state(*two_active_loans)
    original_write = ledger.write_rows_and_loans

    def write_then_lose_the_connection(rows, moved):
        original_write(rows, moved)
        with admin_connection() as admin:
            admin.execute(
                "SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid]
            )

    monkeypatch.setattr(ledger, "write_rows_and_loans", write_then_lose_the_connection)
    body = {"external_id": "pay-2", "customer_external_id": "payer", "total_amount": "1000.00"}

    assert_database_unavailable(wsgi("POST", "/api/payments", body))

    monkeypatch.undo()
    assert Payment.objects.count() == 0
    assert PaymentDetail.objects.count() == 0
    assert loan_state(*two_active_loans) == before
    assert wsgi("POST", "/api/payments", body).status_code == 201


def test_api_key_lookup_failing_is_503_json(wsgi, monkeypatch):
    """The permission check is the first query of most requests."""
    from django.db import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(APIKey.objects, "get_from_key", refuse)
    assert_database_unavailable(wsgi("GET", "/api/customers"))


def _wait_until_readable(raw, seconds: float = 5.0) -> None:
    """Wait until the server's goodbye has reached the client's socket."""
    import select

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if select.select([raw.fileno()], [], [], 0.05)[0]:
            return
    raise AssertionError("the terminated connection never became readable")


def test_a_connection_the_server_ended_while_idle_is_replaced_before_the_next_request(wsgi):
    """The per-request health check (mo_loans/db_backend/base.py) notices the server's
    goodbye on the socket, so the next request reconnects instead of failing."""
    customer = CustomerFactory(external_id="c1")
    make_loan(customer=customer, external_id="l1", taken_at=timezone.now() - timedelta(days=1))
    assert wsgi("GET", "/api/loans/l1").status_code == 200
    raw = connection.connection
    ended = raw.info.backend_pid
    with admin_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [ended])
    _wait_until_readable(raw)

    assert wsgi("GET", "/api/loans/l1").status_code == 200
    assert connection.connection.info.backend_pid != ended


def test_a_kept_connection_in_good_health_is_not_sent_select_1(wsgi, monkeypatch):
    """A good idle connection is judged by its socket alone: no extra round trip."""
    customer = CustomerFactory(external_id="c1")
    make_loan(customer=customer, external_id="l1", taken_at=timezone.now() - timedelta(days=1))
    assert wsgi("GET", "/api/loans/l1").status_code == 200
    kept = connection.connection.info.backend_pid
    checks = []
    backend = type(connections["default"])
    full_check = backend.is_usable

    def counted(self):
        checks.append(self.alias)
        return full_check(self)

    monkeypatch.setattr(backend, "is_usable", counted)
    for _ in range(3):
        assert wsgi("GET", "/api/loans/l1").status_code == 200
    assert checks == []
    assert connection.connection.info.backend_pid == kept
