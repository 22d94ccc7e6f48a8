"""Hostile and broken input: every answer is a clear JSON 4xx and nothing is stored."""

import json
from datetime import timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone

from customers.models import Customer
from loans.models import Installment, Loan
from mo_loans.models import IdempotencyKey
from payments.models import Payment, PaymentDetail
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db

SQL = "'; DROP TABLE customers_customer; --"
MODELS = (Customer, Loan, Installment, Payment, PaymentDetail, IdempotencyKey)


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


def assert_json_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    if code is not None:
        assert body["code"] == code
    return body


def post_raw(client, path: str, body: bytes | str, content_type="application/json", **extra):
    return client.generic("POST", path, body, content_type=content_type, **extra)


@pytest.fixture
def borrower():
    return CustomerFactory(external_id="borrower", score="10000000.00")


@pytest.fixture
def active_loan(borrower):
    return make_loan(
        customer=borrower,
        external_id="loan-1",
        amount="1000000",
        term_weeks=10,
        taken_at=timezone.now() - timedelta(days=30),
    )


@pytest.fixture
def pending_loan(borrower):
    return make_loan(customer=borrower, external_id="loan-pending", amount="1000", term_weeks=4)


# --- request bodies that cannot be read -----------------------------------------------------

POST_PATHS = ["/api/customers", "/api/loans", "/api/payments", "/api/customers/bulk"]


@pytest.mark.parametrize("path", POST_PATHS)
@pytest.mark.parametrize("idempotency_key", [None, "big-1"])
def test_oversized_body_is_413_json(client, settings, path, idempotency_key):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = json.dumps({"external_id": "x", "score": "1", "name": "n" * 10_000})
    extra = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    before = counts()
    assert_json_error(post_raw(client, path, body, **extra), 413, "request_too_large")
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000 + "]" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
    ],
    ids=["nested-arrays", "nested-objects"],
)
@pytest.mark.parametrize("path", POST_PATHS)
def test_deeply_nested_json_is_400(client, path, body):
    before = counts()
    assert_json_error(post_raw(client, path, body), 400)
    assert counts() == before


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "external_id=c1&score=1"),
        (
            "multipart/form-data; boundary=XX",
            '--XX\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--XX--\r\n',
        ),
        ("text/plain", '{"external_id": "c1", "score": "1"}'),
        ("application/xml", "<customer><external_id>c1</external_id></customer>"),
    ],
    ids=["form", "multipart", "text", "xml"],
)
@pytest.mark.parametrize("path", ["/api/customers", "/api/loans", "/api/payments"])
def test_wrong_content_type_is_415(client, path, content_type, body):
    before = counts()
    assert_json_error(post_raw(client, path, body, content_type), 415, "unsupported_media_type")
    assert counts() == before


@pytest.mark.parametrize("path", POST_PATHS)
def test_non_utf8_body_is_400(client, path):
    body = b'{"external_id": "\xff\xfe\xfa", "score": "1"}'
    before = counts()
    assert_json_error(post_raw(client, path, body), 400)
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    ["", "null", "[]", '"text"', "42", "{", '{"external_id": "c1",}', "NaN", "{} {}"],
)
@pytest.mark.parametrize("path", ["/api/customers", "/api/loans", "/api/payments"])
def test_malformed_or_wrong_shaped_json_is_400(client, path, body):
    before = counts()
    assert_json_error(post_raw(client, path, body), 400)
    assert counts() == before


# --- customers ------------------------------------------------------------------------------

BAD_SCORES = [
    "1e400",  # JSON number far beyond any NUMERIC
    str(10**30),
    '"99999999999999.99"',  # 14 integer digits
    "-1",
    '"-0.01"',
    '"1.001"',
    "NaN",
    "Infinity",
    '"NaN"',
    '"1e3"',
    '" 5"',
    '"+5"',
    "true",
    "null",
    '""',
    "[1]",
]


@pytest.mark.parametrize("score", BAD_SCORES)
def test_customer_with_bad_score_is_refused(client, score):
    before = counts()
    body = f'{{"external_id": "c1", "score": {score}}}'
    assert_json_error(post_raw(client, "/api/customers", body), 400)
    assert counts() == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("external_id", ""),
        ("external_id", "x" * 61),
        ("external_id", "nul\u0000byte"),
        ("external_id", "balance"),
        ("external_id", "bulk"),
        ("external_id", None),
        ("name", "n" * 100_000),
        ("name", "nul\u0000byte"),
        ("email", "not-an-email"),
        ("email", "a@b.c\u0000"),
        ("preapproved_at", "yesterday"),
        ("preapproved_at", "2024-02-30T00:00:00Z"),
        ("colour", "red"),  # unknown field
    ],
)
def test_customer_with_bad_field_is_400_naming_it(client, field, value):
    before = counts()
    body = {"external_id": "c1", "score": "1000.00", field: value}
    response = client.post("/api/customers", body, format="json")
    error = assert_json_error(response, 400)
    assert field in error["fields"]
    assert counts() == before


@pytest.mark.parametrize("external_id", ["dot.ted", "mail@host:1", "A-1_b", "x" * 60])
def test_external_ids_are_stored_verbatim_and_found_again(client, external_id):
    response = client.post(
        "/api/customers", {"external_id": external_id, "score": "10"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["external_id"] == external_id
    assert Customer.objects.get().external_id == external_id
    found = client.get("/api/customers", {"external_id": external_id})
    assert [c["external_id"] for c in found.json()["results"]] == [external_id]
    detail = client.get(f"/api/customers/{quote(external_id, safe='')}")
    assert detail.status_code == 200
    assert detail.json()["external_id"] == external_id


@pytest.mark.parametrize(
    "external_id", [SQL, "🦄-customer", "لقرض-١", "עברית", "a/b", "100%", "  spaced  "]
)
def test_ids_outside_the_id_alphabet_are_400_and_nothing_runs(client, external_id):
    response = client.post(
        "/api/customers", {"external_id": external_id, "score": "10"}, format="json"
    )
    error = assert_json_error(response, 400)
    assert "external_id" in error["fields"]
    with connection.cursor() as cursor:  # the table survived the "injection"
        cursor.execute("SELECT count(*) FROM customers_customer")
        assert cursor.fetchone() == (0,)


def test_sql_looking_filters_and_paths_are_plain_values(client, borrower):
    assert client.get("/api/customers", {"external_id": SQL}).json()["count"] == 0
    assert client.get("/api/customers", {"external_id": "' OR '1'='1"}).json()["count"] == 0
    assert_json_error(client.get(f"/api/customers/{quote(SQL, safe='')}"), 404)
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/customers/nul%00byte",
        "/api/loans/nul%00byte",
        "/api/payments/nul%00byte",
        "/api/customers?external_id=nul%00byte",
        "/api/loans?customer_external_id=nul%00byte",
    ],
)
def test_nul_bytes_in_paths_and_filters_are_4xx(client, path):
    response = client.get(path)
    assert 400 <= response.status_code < 500
    assert_json_error(response, response.status_code)


@pytest.mark.parametrize(
    "body",
    [
        {"score": "-1"},
        {"score": "1e400"},
        {"status": 9},
        {"status": "active"},
        {"email": "nope"},
        {"external_id": "renamed"},  # not updatable: unknown field
    ],
)
def test_customer_update_with_bad_field_changes_nothing(client, borrower, body):
    response = client.patch(f"/api/customers/{borrower.external_id}", body, format="json")
    assert_json_error(response, 400)
    borrower.refresh_from_db()
    assert (borrower.external_id, str(borrower.score), borrower.status) == (
        "borrower",
        "10000000.00",
        Customer.Status.ACTIVE,
    )


# --- loans ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", "0.00"),
        ("amount", -5),
        ("amount", "-0.01"),
        ("amount", 10**30),
        ("amount", "99999999999999.99"),
        ("amount", "0.001"),
        ("amount", "NaN"),
        ("amount", True),
        ("interest_rate", "2"),
        ("interest_rate", "-0.1"),
        ("interest_rate", "-0"),
        ("interest_rate", "0.12345"),
        ("interest_rate", "Infinity"),
        ("term_weeks", 0),
        ("term_weeks", 521),
        ("term_weeks", "abc"),
        ("term_weeks", 1.5),
        ("term_weeks", 10**30),
        ("customer_external_id", "nobody"),
        ("external_id", "nul\u0000byte"),
        ("contract_version", "v" * 61),
        ("fee", "1.00"),  # unknown field
    ],
)
def test_loan_with_bad_field_is_400_and_nothing_stored(client, borrower, field, value):
    before = counts()
    body = {"external_id": "new-loan", "customer_external_id": "borrower", "amount": "1000.00"}
    body[field] = value
    error = assert_json_error(client.post("/api/loans", body, format="json"), 400)
    assert field in error.get("fields", {}), error
    assert counts() == before


def test_loan_over_the_credit_line_is_422_and_nothing_stored(client, borrower):
    before = counts()
    body = {"external_id": "big", "customer_external_id": "borrower", "amount": "999999999999"}
    assert_json_error(client.post("/api/loans", body, format="json"), 422, "credit_line_exceeded")
    assert counts() == before


@pytest.mark.parametrize(
    "body",
    [
        {"taken_at": "not a date"},
        {"taken_at": "2024-13-01T00:00:00Z"},
        {"taken_at": 12345},
        {"taken_at": "9999-12-31T23:59:59Z"},  # in the future
        {"taken_at": "2024-01-01T00:00:00Z", "extra": 1},
        ["taken_at"],
    ],
)
def test_activate_with_bad_body_is_400_and_changes_nothing(client, pending_loan, body):
    before = counts()
    response = client.post(f"/api/loans/{pending_loan.external_id}/activate", body, format="json")
    assert_json_error(response, 400)
    pending_loan.refresh_from_db()
    assert pending_loan.status == Loan.Status.PENDING
    assert counts() == before


def test_reject_with_unknown_field_is_400(client, pending_loan):
    response = client.post(
        f"/api/loans/{pending_loan.external_id}/reject", {"reason": "x"}, format="json"
    )
    assert_json_error(response, 400)
    pending_loan.refresh_from_db()
    assert pending_loan.status == Loan.Status.PENDING


@pytest.mark.parametrize("action", ["activate", "reject"])
def test_lifecycle_of_unknown_loan_is_404(client, action):
    assert_json_error(client.post(f"/api/loans/nope/{action}", {}, format="json"), 404)


@pytest.mark.parametrize("action", ["activate", "reject"])
def test_lifecycle_action_in_wrong_state_is_422(client, active_loan, action):
    before = counts()
    response = client.post(f"/api/loans/{active_loan.external_id}/{action}", {}, format="json")
    assert_json_error(response, 422, "invalid_state")
    active_loan.refresh_from_db()
    assert active_loan.status == Loan.Status.ACTIVE
    assert counts() == before


@pytest.mark.parametrize("action", ["activate", "reject"])
def test_lifecycle_action_with_wrong_content_type_is_415(client, pending_loan, action):
    path = f"/api/loans/{pending_loan.external_id}/{action}"
    assert_json_error(post_raw(client, path, "taken_at=x", "text/plain"), 415)
    pending_loan.refresh_from_db()
    assert pending_loan.status == Loan.Status.PENDING


# --- payments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_amount", 0),
        ("total_amount", "0"),
        ("total_amount", -1),
        ("total_amount", "-100.00"),
        ("total_amount", "99999999999999.99"),
        ("total_amount", "0.001"),
        ("total_amount", "1e2"),
        ("total_amount", None),
        ("customer_external_id", "nobody"),
        ("customer_external_id", " borrower"),
        ("loan_external_id", "no-such-loan"),
        ("loan_external_id", "loan-pending"),
        ("external_id", ""),
        ("external_id", "nul\u0000byte"),
        ("external_id", "x" * 61),
        ("tip", "5"),  # unknown field
    ],
)
def test_payment_with_bad_field_is_400_and_nothing_stored(
    client, active_loan, pending_loan, field, value
):
    before = counts()
    loan_before = Loan.objects.values("paid_amount", "outstanding", "status").get(pk=active_loan.pk)
    body = {"external_id": "pay-1", "customer_external_id": "borrower", "total_amount": "100.00"}
    body[field] = value
    error = assert_json_error(client.post("/api/payments", body, format="json"), 400)
    assert field in error.get("fields", {}), error
    assert counts() == before
    assert Loan.objects.values("paid_amount", "outstanding", "status").get(pk=active_loan.pk) == (
        loan_before
    )


def test_payment_with_huge_json_number_is_400(client, active_loan):
    before = counts()
    body = '{"external_id": "p", "customer_external_id": "borrower", "total_amount": 1e400}'
    assert_json_error(post_raw(client, "/api/payments", body), 400)
    assert counts() == before


def test_payment_to_a_loan_of_another_customer_is_400(client, active_loan):
    CustomerFactory(external_id="other")
    before = counts()
    body = {
        "external_id": "p",
        "customer_external_id": "other",
        "loan_external_id": active_loan.external_id,
        "total_amount": "10.00",
    }
    error = assert_json_error(client.post("/api/payments", body, format="json"), 400)
    assert error["code"] == "loan_of_another_customer"
    assert counts() == before


# --- query strings --------------------------------------------------------------------------

LISTS = [
    "/api/customers",
    "/api/customers/balance",
    "/api/loans",
    "/api/payments",
    "/api/customers/borrower/loans",
    "/api/customers/borrower/payments",
]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "page=-1",
        "page=abc",
        "page=1.5",
        "page=",
        "page_size=0",
        "page_size=-5",
        "page_size=abc",
        "page_size=",
        "page=%00",
    ],
)
def test_bad_page_parameters_are_400(client, borrower, path, query):
    error = assert_json_error(client.get(f"{path}?{query}"), 400)
    assert query.partition("=")[0] in error["fields"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("page", ["2", "99999", "99999999999999999999999"])
def test_page_past_the_end_is_404(client, borrower, path, page):
    assert_json_error(client.get(f"{path}?page={page}"), 404, "not_found")


def test_page_size_above_the_maximum_is_capped(client, borrower):
    response = client.get("/api/customers?page_size=100000")
    assert response.status_code == 200
    assert response.json()["count"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/api/loans/loan-1",
        "/api/loans/loan-1/schedule",
        "/api/customers/borrower/balance",
        "/api/loans?delinquent=true",
        "/api/customers?delinquent=true",
    ],
)
@pytest.mark.parametrize(
    "as_of", ["2024-13-01", "2024-02-30", "yesterday", "01/02/2024", "", "%00", "99999-01-01"]
)
def test_bad_as_of_is_400(client, active_loan, path, as_of):
    separator = "&" if "?" in path else "?"
    error = assert_json_error(client.get(f"{path}{separator}as_of={as_of}"), 400)
    assert "as_of" in error["fields"]


@pytest.mark.parametrize(
    "query",
    [
        "status=9",
        "status=abc",
        "status=",
        "delinquent=maybe",
        "delinquent=",
        "paid_from=notadate",
        "paid_to=2024-02-30T00:00:00Z",
    ],
)
def test_bad_filters_are_400(client, query):
    path = "/api/payments" if query.startswith("paid") else "/api/loans"
    error = assert_json_error(client.get(f"{path}?{query}"), 400)
    assert query.partition("=")[0] in error["fields"]


def test_extreme_utc_offsets_in_filters_are_answered(client, active_loan):
    response = client.get("/api/payments", {"paid_to": "2024-01-01T00:00:00+23:59"})
    assert response.status_code == 200
    assert_json_error(client.get("/api/payments", {"paid_from": "0001-01-01T00:00:00+23:59"}), 400)


# --- Django-level refusals ------------------------------------------------------------------


def test_disallowed_host_is_json_400(client):
    assert_json_error(client.get("/api/customers", HTTP_HOST="evil.example"), 400)


def test_unsupported_method_is_json_405(client):
    assert_json_error(client.delete("/api/customers"), 405, "method_not_allowed")
    assert_json_error(client.put("/api/payments", {}, format="json"), 405)


def test_bad_idempotency_key_is_json_400(client, borrower):
    before = counts()
    body = {"external_id": "c2", "score": "1"}
    response = client.post("/api/customers", body, format="json", HTTP_IDEMPOTENCY_KEY="has space")
    assert_json_error(response, 400, "invalid_idempotency_key")
    assert counts() == before
