"""A JSON string field takes a JSON string only: a number, boolean, list or object is 400."""

import pytest
from rest_framework.exceptions import ValidationError

from customers.models import Customer
from loans.models import Loan
from mo_loans.api.serializers import StrictCharField, StrictEmailField
from payments.models import Payment
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db

NOT_STRINGS = [0, 12.5, True, ["a"], {"a": "b"}]


@pytest.mark.parametrize("value", NOT_STRINGS)
def test_strict_fields_refuse_what_is_not_a_string(value):
    for field in (StrictCharField(), StrictEmailField()):
        with pytest.raises(ValidationError):
            field.run_validation(value)


def test_strict_fields_take_strings():
    assert StrictCharField().run_validation("Ana") == "Ana"
    assert StrictEmailField().run_validation("ana@example.com") == "ana@example.com"


@pytest.mark.parametrize("field", ["external_id", "name", "email"])
@pytest.mark.parametrize("value", [0, 7, False])
def test_customer_create_refuses_a_number_for_a_string(client, field, value):
    payload = {"external_id": "c-1", "score": "10", field: value}
    response = client.post("/api/customers", payload, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("field", ["name", "email"])
def test_customer_update_refuses_a_number_for_a_string(client, field):
    customer = CustomerFactory(name="Ana")
    response = client.patch(f"/api/customers/{customer.external_id}", {field: 0}, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    customer.refresh_from_db()
    assert customer.name == "Ana"


def test_bulk_rows_refuse_a_number_for_a_string(client):
    rows = [{"external_id": "ok", "score": "1"}, {"external_id": 5, "score": "1", "name": 0}]
    response = client.post("/api/customers/bulk", rows, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"2.external_id", "2.name"}
    assert not Customer.objects.exists()


@pytest.mark.parametrize("field", ["external_id", "customer_external_id", "contract_version"])
def test_loan_create_refuses_a_number_for_a_string(client, field):
    customer = CustomerFactory(external_id="123")
    payload = {"external_id": "L-1", "customer_external_id": customer.external_id, "amount": "100"}
    payload[field] = 123
    response = client.post("/api/loans", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Loan.objects.exists()


@pytest.mark.parametrize("field", ["external_id", "customer_external_id", "loan_external_id"])
def test_payment_refuses_a_number_for_a_string(client, field):
    from django.utils import timezone

    customer = CustomerFactory(external_id="77")
    loan = make_loan(customer=customer, external_id="88", amount="100", taken_at=timezone.now())
    payload = {
        "external_id": "99",
        "customer_external_id": customer.external_id,
        "loan_external_id": loan.external_id,
        "total_amount": "10",
    }
    payload[field] = int(payload[field])
    response = client.post("/api/payments", payload, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not Payment.objects.exists()
