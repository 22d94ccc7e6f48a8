import json
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

import payments.apis
from loans.models import Loan
from mo_loans.api.idempotency import _fingerprint
from mo_loans.core.exceptions import InvalidInputError
from mo_loans.models import IdempotencyKey
from payments.models import Payment

pytestmark = pytest.mark.django_db


def post(client, key, payload, path="/api/payments"):
    return client.post(path, payload, format="json", HTTP_IDEMPOTENCY_KEY=key)


PAYMENT = {"external_id": "P1", "customer_external_id": "C1", "total_amount": "250"}


def test_repeat_with_same_key_and_body_replays_the_first_response(client, two_loans):
    first = post(client, "k-1", PAYMENT)
    assert first.status_code == 201
    again = post(client, "k-1", PAYMENT)
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Payment.objects.count() == 1
    assert Loan.objects.get(external_id="A").paid_amount == 200


def test_same_key_with_another_body_is_422(client, two_loans):
    post(client, "k-1", PAYMENT)
    response = post(client, "k-1", PAYMENT | {"total_amount": "251"})
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Payment.objects.count() == 1


def test_refusals_are_replayed_too(client, two_loans):
    bad = PAYMENT | {"customer_external_id": "ghost"}
    first = post(client, "k-2", bad)
    assert first.status_code == 400
    replay = post(client, "k-2", bad)
    assert replay.status_code == 400
    assert replay.json() == first.json()
    assert replay.json()["fields"]["customer_external_id"]


def test_a_refusal_keeps_its_answer_and_none_of_its_writes(client, customer):
    """A loan over the credit line: 422, no loan, and the replay is the same 422."""
    body = {"external_id": "big", "customer_external_id": "C1", "amount": "999999999"}
    first = post(client, "too-big", body, "/api/loans")
    assert first.status_code == 422
    assert first.json()["code"] == "credit_line_exceeded"
    assert not Loan.objects.exists()
    replay = post(client, "too-big", body, "/api/loans")
    assert (replay.status_code, replay.json()) == (422, first.json())
    stored = IdempotencyKey.objects.get(key="too-big")
    assert (stored.status_code, bytes(stored.body)) == (422, first.content)


@pytest.mark.parametrize(
    ("failure", "status", "kept"),
    [
        (InvalidInputError("refused after the write", code="late_refusal"), 400, True),
        (RuntimeError("a bug after the write"), 500, False),
    ],
    ids=["4xx", "5xx"],
)
def test_an_error_after_the_write_undoes_the_write(
    client, two_loans, monkeypatch, failure, status, kept
):
    """The payment is written, then answering fails: no payment, and the key tells the truth."""

    class Exploding:
        def __init__(self, payment):
            assert Payment.objects.filter(pk=payment.pk).exists()  # really written

        @property
        def data(self):
            raise failure

    monkeypatch.setattr(payments.apis, "PaymentOutputSerializer", Exploding)
    client.raise_request_exception = False  # a 5xx is Django's handler500, as in production
    response = post(client, "late", PAYMENT)
    assert response.status_code == status
    assert not Payment.objects.exists()
    assert Loan.objects.get(external_id="A").paid_amount == 0
    assert IdempotencyKey.objects.filter(key="late").exists() == kept
    monkeypatch.undo()
    again = post(client, "late", PAYMENT)
    if kept:
        assert (again.status_code, again.json()) == (status, response.json())
    else:
        assert again.status_code == 201
        assert Payment.objects.count() == 1


# --- requests that are really running: real threads, their own connections ----------------


@pytest.fixture
def patient_locks(monkeypatch):
    """Connections opened from now on wait up to a minute for a row lock.

    The default limit (5 s) could end a request this test keeps waiting on purpose.
    """
    monkeypatch.setitem(connection.settings_dict["OPTIONS"], "options", "-c lock_timeout=60000")


def _connect(**extra) -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, **extra)


@contextmanager
def customer_locked(external_id: str):
    """Another connection holds the customer's row lock, as a long payment would."""
    with _connect() as holder:
        holder.execute(
            "SELECT 1 FROM customers_customer WHERE external_id = %s FOR UPDATE", [external_id]
        )
        yield
        holder.rollback()


def wait_for_a_lock_waiter() -> None:
    with _connect(autocommit=True) as probe:
        for _ in range(600):
            waiting = probe.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                return
            time.sleep(0.05)
    pytest.fail("no request ever waited on the lock")


def post_in_thread(api_key: str, key: str, payload: dict) -> threading.Thread:
    def run():
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
        try:
            thread.response = post(api, key, payload)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def joined(thread: threading.Thread):
    thread.join(timeout=90)
    assert not thread.is_alive()
    return thread.response


@pytest.mark.django_db(transaction=True)
def test_a_key_still_running_gives_409(client, two_loans, api_key, patient_locks):
    with customer_locked("C1"):
        first = post_in_thread(api_key, "busy", PAYMENT)
        wait_for_a_lock_waiter()
        response = post(client, "busy", PAYMENT)
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_request_in_progress"
        assert not IdempotencyKey.objects.exists()  # nothing committed for a running request
    assert joined(first).status_code == 201
    assert Payment.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_prune_never_removes_a_key_whose_request_is_running(
    client, two_loans, api_key, patient_locks
):
    with customer_locked("C1"):
        first = post_in_thread(api_key, "long", PAYMENT)
        wait_for_a_lock_waiter()
        call_command("prune_idempotency_keys", older_than_hours=1e-9)  # all but what runs
    answered = joined(first)
    assert answered.status_code == 201, answered.content
    replay = post(client, "long", PAYMENT)
    assert (replay.status_code, replay.json()) == (201, answered.json())
    assert Payment.objects.count() == 1


def test_a_claim_left_by_the_previous_version_blocks_its_key_for_5_minutes(
    client, two_loans, api_key
):
    """Rows without an answer come only from before this version (see the module)."""
    body = json.dumps(PAYMENT)
    running = RequestFactory().post("/api/payments", body, content_type="application/json")
    IdempotencyKey.objects.create(
        scope=api_key.partition(".")[0], key="old-claim", fingerprint=_fingerprint(running)
    )
    response = client.post(
        "/api/payments", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="old-claim"
    )
    assert response.status_code == 409
    assert not Payment.objects.exists()
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(minutes=6))
    response = client.post(
        "/api/payments", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="old-claim"
    )
    assert response.status_code == 201
    assert IdempotencyKey.objects.get().status_code == 201


def test_keys_work_on_every_post(client, customer):
    body = {"external_id": "L9", "customer_external_id": "C1", "amount": "100"}
    first = post(client, "loan-key", body, "/api/loans")
    again = post(client, "loan-key", body, "/api/loans/")
    assert first.status_code == again.status_code == 201
    assert Loan.objects.filter(external_id="L9").count() == 1
    first = post(client, "act", {}, "/api/loans/L9/activate")
    assert post(client, "act", {}, "/api/loans/L9/activate").json() == first.json()
    assert (
        post(client, "cust", {"external_id": "new", "score": "1"}, "/api/customers").status_code
        == 201
    )
    assert (
        post(client, "cust", {"external_id": "new", "score": "1"}, "/api/customers").status_code
        == 201
    )


def test_keys_are_scoped_by_api_key(client, anon_client, two_loans):
    from rest_framework_api_key.models import APIKey

    post(client, "shared", PAYMENT)
    _, other_key = APIKey.objects.create_key(name="other")
    anon_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}")
    response = post(anon_client, "shared", PAYMENT | {"external_id": "P2"})
    assert response.status_code == 201
    assert Payment.objects.count() == 2


def test_auth_failures_write_nothing(anon_client, client, two_loans, api_key):
    post(client, "k", PAYMENT)  # a real key's answer, under the same prefix below
    prefix = api_key.partition(".")[0]
    for bogus in ("bogus.key", f"{prefix}.not-the-secret"):
        anon_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {bogus}")
        with CaptureQueriesContext(connection) as queries:
            response = post(anon_client, "k", PAYMENT | {"external_id": "P2"})
        assert response.status_code == 401
        assert "Idempotent-Replayed" not in response
        writes = [
            q["sql"] for q in queries if q["sql"].split()[0] in {"INSERT", "UPDATE", "DELETE"}
        ]
        assert writes == []
    assert IdempotencyKey.objects.count() == Payment.objects.count() == 1


def test_bad_key_is_400(client, two_loans):
    response = post(client, "has space", PAYMENT)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_idempotency_key"
    assert post(client, "x" * 256, PAYMENT).status_code == 400


def test_keys_expire_after_the_ttl_and_are_pruned(client, two_loans, settings):
    post(client, "old", PAYMENT)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    # Expired: the key is free again, and the same payment id is now a duplicate.
    assert post(client, "old", PAYMENT).status_code == 400
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    post(client, "fresh", PAYMENT | {"external_id": "P3"})
    call_command("prune_idempotency_keys")
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]
