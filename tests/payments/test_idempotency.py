import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone

from loans.models import Loan
from mo_loans.api.idempotency import _fingerprint
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
    assert post(client, "k-2", bad).status_code == 400
    replay = post(client, "k-2", bad)
    assert replay.status_code == 400
    assert replay.json()["fields"]["customer_external_id"]


def test_a_key_still_running_gives_409(client, two_loans, api_key):
    body = json.dumps(PAYMENT)
    running = RequestFactory().post("/api/payments", body, content_type="application/json")
    IdempotencyKey.objects.create(
        scope=api_key.partition(".")[0], key="busy", fingerprint=_fingerprint(running)
    )
    response = client.post(
        "/api/payments", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_request_in_progress"
    assert not Payment.objects.exists()


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


def test_auth_failures_are_not_kept(anon_client, client, two_loans):
    anon_client.credentials(HTTP_AUTHORIZATION="Api-Key bogus.key")
    assert post(anon_client, "k", PAYMENT).status_code == 401
    assert not IdempotencyKey.objects.exists()


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
