"""Ids that address exactly one thing: one alphabet everywhere, and paths that name one id."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer
from loans.models import Loan
from mo_loans import ids
from payments.models import Payment
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db

# A slash, a space, a percent sign, non-ASCII look-alikes, a zero-width space,
# a right-to-left override, a line break: none of them may be in an id.
BAD_IDS = [
    "acme/",
    "x/L1",
    "a b",
    "50%",
    "acm\u0435",  # Cyrillic е
    "acme\u200b",
    "\u202eacme",
    "acme\n",
    "ａcme",  # fullwidth a
]
GOOD_IDS = ["acme", "A-1_b.c:d@e", "x" * 60, "0"]


def assert_id_refused(response, field="external_id"):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    assert field in body["fields"], body


@pytest.mark.parametrize("external_id", GOOD_IDS)
def test_the_alphabet_accepts_plain_ids(external_id):
    assert ids.is_external_id(external_id)


@pytest.mark.parametrize("external_id", [*BAD_IDS, "", "x" * 61])
def test_the_alphabet_refuses_everything_else(external_id):
    assert not ids.is_external_id(external_id)


@pytest.mark.parametrize("external_id", BAD_IDS)
def test_customer_ids_outside_the_alphabet_are_400(client, external_id):
    response = client.post(
        "/api/customers", {"external_id": external_id, "score": "1"}, format="json"
    )
    assert_id_refused(response)
    assert not Customer.objects.exists()


def test_acme_and_acme_slash_cannot_both_exist(client):
    created = client.post("/api/customers", {"external_id": "acme", "score": "1"}, format="json")
    assert created.status_code == 201
    response = client.post("/api/customers", {"external_id": "acme/", "score": "1"}, format="json")
    assert_id_refused(response)
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["acme"]


@pytest.mark.parametrize("external_id", BAD_IDS)
def test_loan_ids_outside_the_alphabet_are_400(client, external_id):
    customer = CustomerFactory()
    response = client.post(
        "/api/loans",
        {"external_id": external_id, "customer_external_id": customer.external_id, "amount": "10"},
        format="json",
    )
    assert_id_refused(response)
    assert not Loan.objects.exists()


def test_a_loan_id_with_a_slash_never_blocks_the_credit_line(client):
    customer = CustomerFactory(score="100.00")
    response = client.post(
        "/api/loans",
        {"external_id": "x/L1", "customer_external_id": customer.external_id, "amount": "90"},
        format="json",
    )
    assert_id_refused(response)
    balance = client.get(f"/api/customers/{customer.external_id}/balance").json()
    assert balance["available_amount"] == "100.00"


@pytest.mark.parametrize("field", ["external_id", "customer_external_id", "loan_external_id"])
def test_payment_ids_outside_the_alphabet_are_400(client, field):
    customer = CustomerFactory()
    body = {"external_id": "P1", "customer_external_id": customer.external_id}
    body |= {"total_amount": "10", field: "P\u200b1"}
    assert_id_refused(client.post("/api/payments", body, format="json"), field)
    assert not Payment.objects.exists()


def test_the_reference_ids_of_a_loan_are_checked_too(client):
    response = client.post(
        "/api/loans",
        {"external_id": "L1", "customer_external_id": "\u202eC1", "amount": "10"},
        format="json",
    )
    assert_id_refused(response, "customer_external_id")


def test_bulk_json_and_csv_refuse_bad_ids_and_store_nothing(client):
    rows = [{"external_id": "ok", "score": "1"}, {"external_id": "acme/", "score": "1"}]
    response = client.post("/api/customers/bulk", rows, format="json")
    assert response.status_code == 400
    assert response.json()["invalid_rows"] == [2]
    assert "2.external_id" in response.json()["fields"]
    csv = "external_id,score\nok,1\nzero\u200bwidth,1\n".encode()
    response = client.generic("POST", "/api/customers/bulk", csv, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["invalid_rows"] == [2]
    assert not Customer.objects.exists()


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_import_refuses_bad_ids_through_the_fast_path_too(tmp_path: Path, fmt):
    if fmt == "csv":
        path = tmp_path / "customers.csv"
        path.write_text("external_id,score\nfine,1\nacme/,1\na b,2\n", encoding="utf-8")
    else:
        path = tmp_path / "customers.json"
        path.write_text(
            '[{"external_id": "fine", "score": "1"}, {"external_id": "acme/", "score": "1"},'
            ' {"external_id": "a b", "score": "2"}]',
            encoding="utf-8",
        )
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_customers", str(path), stdout=StringIO(), stderr=err)
    unit = "line" if fmt == "csv" else "record"
    first, second = (3, 4) if fmt == "csv" else (2, 3)
    for number in (first, second):
        assert f"{unit} {number}, external_id: Must be 1–60 characters" in err.getvalue()
    assert not Customer.objects.exists()


@pytest.mark.parametrize("model", ["customer", "loan", "payment"])
def test_the_database_refuses_ids_outside_the_alphabet(model):
    customer = CustomerFactory()
    loan = make_loan(customer=customer, external_id="L1", amount="100", term_weeks=2)
    with pytest.raises(IntegrityError, match="external_id_alphabet"), transaction.atomic():
        if model == "customer":
            Customer.objects.create(external_id="acme/", score=1)
        elif model == "loan":
            Loan.objects.filter(pk=loan.pk).update(external_id="x/L1")
        else:
            Payment.objects.create(
                external_id="p\u200b1",
                customer=customer,
                total_amount=1,
                status=Payment.Status.REJECTED,
                rejection_reason="test",
                paid_at=timezone.now(),
            )


# --- paths: a trailing or encoded slash never changes which resource is named ------


def test_patch_acme_encoded_slash_never_touches_acme(client):
    CustomerFactory(external_id="acme", score="5.00")
    # The test client decodes the path like a WSGI server; RAW_URI is what gunicorn passes.
    response = client.patch(
        "/api/customers/acme%2F",
        {"score": "999.00"},
        format="json",
        RAW_URI="/api/customers/acme%2F",
    )
    assert response.status_code == 404
    assert response.json()["code"] == "route_not_found"
    assert Customer.objects.get(external_id="acme").score == 5


def test_an_encoded_slash_never_reads_as_a_separator(client):
    customer = CustomerFactory(external_id="x")
    make_loan(customer=customer, external_id="L1", amount="100", term_weeks=2)
    response = client.get("/api/customers/x%2Floans", RAW_URI="/api/customers/x%2Floans?page=1")
    assert response.status_code == 404
    assert response["X-Request-ID"]


def test_a_real_trailing_slash_still_names_the_same_resource(client):
    CustomerFactory(external_id="acme", score="5.00")
    response = client.patch(
        "/api/customers/acme/", {"score": "6.00"}, format="json", RAW_URI="/api/customers/acme/"
    )
    assert response.status_code == 200
    assert response.json()["external_id"] == "acme"


def test_a_path_segment_outside_the_alphabet_is_no_route(client):
    CustomerFactory(external_id="acme")
    assert client.get("/api/customers/acme%E2%80%8B").status_code == 404
    assert client.get("/api/loans/a%20b/schedule").status_code == 404
