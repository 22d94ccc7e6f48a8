"""Retries with an Idempotency-Key after real faults, under a real gunicorn.

A payment waiting on a row lock past ``DATABASE_LOCK_TIMEOUT_MS``, a worker
killed with SIGKILL in the middle of a payment, the database cut off in the
middle of a burst of payments: after each, every retry with the same key
gives the original answer or makes the payment once, never twice, and never
answers with a wrong status.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from http.client import HTTPException
from pathlib import Path

import psutil
import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from mo_loans.models import IdempotencyKey
from payments.models import Payment
from tests.factories import CustomerFactory, make_loan
from tests.hardening.test_faults import database_gone
from tests.payments.test_concurrency import assert_ledger_is_exact
from tests.support.gunicorn import GunicornServer

pytestmark = pytest.mark.django_db(transaction=True)

# Only a guard against a test hanging forever; nothing asserts on time.
PATIENCE = 60.0


@dataclass
class Answer:
    status: int | None  # None: no answer at all (the connection was cut)
    body: dict
    headers: dict


@dataclass
class Server:
    base: str
    process: subprocess.Popen
    gunicorn: GunicornServer

    def wait_until_up(self) -> None:
        self.gunicorn.wait_for(f"{self.base}/healthz")

    def workers(self) -> list[int]:
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def post(self, path: str, body: dict, *, api_key: str, key: str, timeout=PATIENCE) -> Answer:
        request = urllib.request.Request(  # noqa: S310 (http to localhost)
            self.base + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={
                "Authorization": f"Api-Key {api_key}",
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                return Answer(response.status, json.loads(response.read()), dict(response.headers))
        except urllib.error.HTTPError as error:
            return Answer(error.code, json.loads(error.read()), dict(error.headers))
        except (OSError, HTTPException):
            return Answer(None, {}, {})


@contextmanager
def gunicorn(tmp_path: Path, **settings: str) -> Iterator[Server]:
    """One gunicorn worker of four threads serving the test database."""
    db = connection.settings_dict
    (tmp_path / "metrics").mkdir()
    env = {
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_NAME": db["NAME"],
        "DATABASE_USER": db["USER"],
        "DATABASE_PASSWORD": db["PASSWORD"],
        "DATABASE_HOST": db["HOST"],
        "DATABASE_PORT": str(db["PORT"] or "5432"),
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
        "GUNICORN_THREADS": "4",
        **settings,
    }
    with GunicornServer(
        env=env, workers=1, start_timeout=PATIENCE, log_path=tmp_path / "gunicorn.log"
    ) as server:
        yield Server(server.url, server.process, server)


def connect(**extra) -> psycopg.Connection:
    """A connection to the test database, outside Django and outside gunicorn."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, **extra)


@contextmanager
def customer_locked(external_id: str) -> Iterator[psycopg.Connection]:
    """Another connection holds the customer's row lock, as a long payment would."""
    holder = connect()
    try:
        holder.execute(
            "SELECT 1 FROM customers_customer WHERE external_id = %s FOR UPDATE", [external_id]
        )
        yield holder
    finally:
        holder.close()  # also after the database cut it off


def lock_waiters() -> set[int]:
    """Backend pids of the test database waiting on a lock."""
    with connect(autocommit=True) as probe:
        rows = probe.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()
    return {pid for (pid,) in rows}


def wait_for(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    pytest.fail(f"never: {what}")


def in_thread(target) -> threading.Thread:
    def run():
        thread.result = target()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def joined(thread: threading.Thread):
    thread.join(timeout=PATIENCE * 3)
    assert not thread.is_alive()
    return thread.result


def customer_with_a_loan(external_id: str) -> None:
    customer = CustomerFactory(external_id=external_id, score=Decimal("100000000"))
    make_loan(
        customer=customer,
        external_id=f"{external_id}-loan",
        amount="1000000",
        taken_at=timezone.now() - timedelta(weeks=3),
    )


def payment(external_id: str, customer: str, amount: str = "1000.00") -> dict:
    return {"external_id": external_id, "customer_external_id": customer, "total_amount": amount}


def assert_paid_once(answer: Answer, body: dict) -> None:
    assert answer.status == 201, (answer.status, answer.body)
    assert answer.body["external_id"] == body["external_id"]
    assert Payment.objects.filter(external_id=body["external_id"]).count() == 1


def test_a_payment_held_on_a_row_lock_past_the_lock_timeout_is_503_and_its_retry_pays_once(
    api_key, tmp_path
):
    customer_with_a_loan("c1")
    body = payment("p1", "c1")
    with gunicorn(tmp_path, DATABASE_LOCK_TIMEOUT_MS="500") as server:
        with customer_locked("c1"):
            timed_out = server.post("/api/payments", body, api_key=api_key, key="locked")
        assert timed_out.status == 503, (timed_out.status, timed_out.body)
        assert timed_out.body["code"] == "database_timeout"
        assert int(timed_out.headers["Retry-After"]) > 0
        assert not Payment.objects.exists()
        assert not IdempotencyKey.objects.exists()

        retried = server.post("/api/payments", body, api_key=api_key, key="locked")
        assert_paid_once(retried, body)
        again = server.post("/api/payments", body, api_key=api_key, key="locked")
        assert (again.status, again.body) == (201, retried.body)
        assert again.headers["Idempotent-Replayed"] == "true"


def test_a_worker_killed_in_the_middle_of_a_payment_frees_its_key_at_once(api_key, tmp_path):
    customer_with_a_loan("c1")
    body = payment("p1", "c1")
    with gunicorn(tmp_path, DATABASE_LOCK_TIMEOUT_MS="60000") as server:
        (worker,) = server.workers()
        with customer_locked("c1"):
            first = in_thread(
                lambda: server.post("/api/payments", body, api_key=api_key, key="killed")
            )
            # Mid-payment: its transaction holds the key and waits for the customer.
            (backend,) = wait_for(lock_waiters, "the payment waits for the customer")
            os.kill(worker, signal.SIGKILL)
            assert joined(first).status is None  # the client never got an answer
            # The server notices the dead connection while the statement still waits,
            # and drops that transaction with the key's lock.
            wait_for(lambda: backend not in lock_waiters(), "the dead worker's backend is gone")
            assert not Payment.objects.exists()
            assert not IdempotencyKey.objects.exists()
        server.wait_until_up()  # gunicorn's replacement worker

        retried = server.post("/api/payments", body, api_key=api_key, key="killed")
        assert_paid_once(retried, body)
        again = server.post("/api/payments", body, api_key=api_key, key="killed")
        assert (again.status, again.body) == (201, retried.body)
        assert again.headers["Idempotent-Replayed"] == "true"


def test_the_database_cut_off_in_the_middle_of_a_burst_never_pays_twice(api_key, tmp_path):
    customers = [f"c{i}" for i in range(4)]
    for customer in customers:
        customer_with_a_loan(customer)
    bodies = {f"key-{i}": payment(f"p{i}", customers[i % 4], f"{100 + i}.00") for i in range(24)}
    answers: dict[str, list[Answer]] = {key: [] for key in bodies}
    refused_after_the_cut = threading.Event()
    cut = threading.Event()

    with gunicorn(tmp_path, DATABASE_LOCK_TIMEOUT_MS="60000", GUNICORN_THREADS="8") as server:

        def client(keys: list[str]) -> None:
            """Send each payment until it is answered 201, retrying what may be retried."""
            for key in keys:
                for _ in range(2000):
                    answer = server.post("/api/payments", bodies[key], api_key=api_key, key=key)
                    answers[key].append(answer)
                    if answer.status != 503:
                        break
                    if cut.is_set():
                        refused_after_the_cut.set()
                    time.sleep(0.02)

        keys = list(bodies)
        with customer_locked("c0"):  # c0's payments are all mid-transaction when the cut comes
            pool = [in_thread(lambda chunk=keys[i::8]: client(chunk)) for i in range(8)]
            wait_for(lock_waiters, "payments wait for customer c0")
            with database_gone():
                cut.set()
                refused_after_the_cut.wait(timeout=PATIENCE)
        for thread in pool:
            joined(thread)
        connection.close()  # the test's own connection was cut off too

        for key, body in bodies.items():
            statuses = [answer.status for answer in answers[key]]
            # Only "not now" (503) before the one answer: no 409, no 400, no 500.
            assert set(statuses[:-1]) <= {503}, (key, statuses)
            final = answers[key][-1]
            assert_paid_once(final, body)
            replay = server.post("/api/payments", body, api_key=api_key, key=key)
            assert (replay.status, replay.body) == (201, final.body), key
        assert refused_after_the_cut.is_set()
        assert Payment.objects.count() == len(bodies)
        assert IdempotencyKey.objects.count() == len(bodies)
        assert_ledger_is_exact()
