from decimal import Decimal

import pytest

from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_create_customer_returns_201_and_is_active(client):
    response = client.post(
        "/api/customers/",
        {"external_id": "c-1", "score": "5000000", "name": "Ana", "email": "ana@example.com"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["external_id"] == "c-1"
    assert body["score"] == "5000000.00"
    assert body["status"] == Customer.Status.ACTIVE
    assert Customer.objects.get(external_id="c-1").score == Decimal("5000000.00")


def test_score_zero_is_allowed(client):
    response = client.post("/api/customers", {"external_id": "z", "score": 0}, format="json")
    assert response.status_code == 201
    assert response.json()["score"] == "0.00"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"score": "10"}, "external_id"),
        ({"external_id": "", "score": "10"}, "external_id"),
        ({"external_id": "x" * 61, "score": "10"}, "external_id"),
        ({"external_id": "balance", "score": "10"}, "external_id"),
        ({"external_id": "bulk", "score": "10"}, "external_id"),
        ({"external_id": "a"}, "score"),
        ({"external_id": "a", "score": "-1"}, "score"),
        ({"external_id": "a", "score": "1.001"}, "score"),
        ({"external_id": "a", "score": "NaN"}, "score"),
        ({"external_id": "a", "score": "Infinity"}, "score"),
        ({"external_id": "a", "score": "1234567890123"}, "score"),
        ({"external_id": "a", "score": True}, "score"),
        ({"external_id": "a", "score": "1", "email": "not-an-email"}, "email"),
        ({"external_id": "a", "score": "1", "colour": "red"}, "colour"),
    ],
)
def test_invalid_customer_is_400_with_field_and_nothing_stored(client, payload, field):
    response = client.post("/api/customers", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"]
    assert field in body["fields"]
    assert not Customer.objects.exists()


def test_json_number_with_three_decimals_is_refused_exactly(client):
    raw = '{"external_id": "a", "score": 10.005}'
    response = client.post("/api/customers", raw, content_type="application/json")
    assert response.status_code == 400
    assert "score" in response.json()["fields"]


def test_duplicate_external_id_is_400_under_fields_external_id(client):
    CustomerFactory(external_id="dup")
    response = client.post("/api/customers", {"external_id": "dup", "score": "1"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "duplicate_external_id"
    assert "external_id" in body["fields"]
    assert Customer.objects.filter(external_id="dup").count() == 1


def test_read_customer_by_external_id(client):
    CustomerFactory(external_id="ext-9", score=Decimal("12.50"))
    response = client.get("/api/customers/ext-9")
    assert response.status_code == 200
    assert response.json()["score"] == "12.50"
    assert client.get("/api/customers/ext-9/").json() == response.json()


def test_unknown_customer_is_404_json(client):
    response = client.get("/api/customers/nobody")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_patch_changes_only_allowed_fields(client):
    CustomerFactory(external_id="p", score=Decimal("1.00"))
    response = client.patch(
        "/api/customers/p/", {"score": "99.99", "status": 2, "name": "New"}, format="json"
    )
    assert response.status_code == 200, response.json()
    customer = Customer.objects.get(external_id="p")
    assert (customer.score, customer.status, customer.name) == (Decimal("99.99"), 2, "New")


@pytest.mark.parametrize(
    "payload",
    [{"status": 3}, {"score": "-5"}, {"external_id": "other"}, {"email": "nope"}],
)
def test_patch_refuses_bad_values_and_changes_nothing(client, payload):
    CustomerFactory(external_id="p", score=Decimal("1.00"))
    response = client.patch("/api/customers/p", payload, format="json")
    assert response.status_code == 400
    customer = Customer.objects.get(external_id="p")
    assert (customer.external_id, customer.score, customer.status) == ("p", Decimal("1.00"), 1)


def test_list_is_paginated_and_filtered(client):
    CustomerFactory.create_batch(3)
    CustomerFactory(external_id="gone", status=Customer.Status.INACTIVE)
    body = client.get("/api/customers?page_size=2").json()
    assert body["count"] == 4
    assert len(body["results"]) == 2
    assert body["next"] is not None and body["previous"] is None
    inactive = client.get("/api/customers/?status=2").json()
    assert [c["external_id"] for c in inactive["results"]] == ["gone"]
    by_id = client.get("/api/customers?external_id=gone").json()
    assert by_id["count"] == 1


def test_bad_filter_value_is_400(client):
    response = client.get("/api/customers?status=7")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_page_size_is_capped_at_1000(client):
    CustomerFactory.create_batch(3)
    body = client.get("/api/customers?page_size=5000").json()
    assert len(body["results"]) == 3


def test_page_past_the_end_is_404_json(client):
    CustomerFactory()
    response = client.get("/api/customers?page=9")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("page_size", [1, 100])
def test_list_costs_the_same_queries_whatever_the_page_size(
    client, django_assert_num_queries, page_size
):
    CustomerFactory.create_batch(100)
    # 1 API key lookup + 1 count + 1 page.
    with django_assert_num_queries(3):
        response = client.get(f"/api/customers?page_size={page_size}")
    assert len(response.json()["results"]) == page_size
