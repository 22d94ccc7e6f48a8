import io
import re

import pytest
from django.core.management import call_command

from customers.models import Customer
from loans.models import Loan
from payments.models import Payment


def test_openapi_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "schema.yml"
    errors = io.StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out), stderr=errors)
    assert "Error" not in errors.getvalue() and "Warning" not in errors.getvalue()
    text = out.read_text()
    assert "openapi: 3" in text
    assert "/api/customers" in text


@pytest.fixture
def schema(anon_client) -> dict:
    response = anon_client.get("/api/schema?format=json")
    assert response.status_code == 200
    return response.json()


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("component", "choices"),
    [
        ("CustomerStatus", Customer.Status),
        ("LoanStatus", Loan.Status),
        ("PaymentStatus", Payment.Status),
    ],
)
def test_integer_statuses_are_named_after_the_models_choices(schema, component, choices):
    enum = schema["components"]["schemas"][component]
    assert enum["type"] == "integer"
    named = dict(zip(enum["enum"], enum["x-enum-varnames"], strict=True))
    for member in choices:
        assert named[member.value] == member.name
    assert len(enum["x-enum-descriptions"]) == len(enum["enum"])
    for value, name in named.items():
        assert f"* `{value}` {name}: " in enum["description"]


def test_statuses_are_the_documented_codes(schema):
    components = schema["components"]["schemas"]

    def named(component):
        enum = components[component]
        return dict(zip(enum["enum"], enum["x-enum-varnames"], strict=True))

    assert named("CustomerStatus") == {1: "ACTIVE", 2: "INACTIVE"}
    assert named("LoanStatus") == {1: "PENDING", 2: "ACTIVE", 3: "REJECTED", 4: "PAID"}
    assert named("PaymentStatus") == {1: "COMPLETED", 2: "REJECTED", 3: "REVERSED"}
    assert named("InstallmentStatus") == {
        "paid": "PAID",
        "partial": "PARTIAL",
        "due": "DUE",
        "missed": "MISSED",
    }


def test_a_lists_status_filter_takes_the_enum_of_its_items(schema):
    expected = {
        "/api/customers": "CustomerStatus",
        "/api/loans": "LoanStatus",
        "/api/customers/{external_id}/loans": "LoanStatus",
        "/api/payments": "PaymentStatus",
        "/api/customers/{external_id}/payments": "PaymentStatus",
    }
    for path, enum in expected.items():
        (status,) = [p for p in schema["paths"][path]["get"]["parameters"] if p["name"] == "status"]
        assert status["schema"] == {"$ref": f"#/components/schemas/{enum}"}, path


def test_the_payment_status_filter_accepts_every_documented_value(client):
    assert client.get("/api/payments?status=3").status_code == 200
    assert client.get("/api/payments?status=9").status_code == 400


def _texts(node, where=""):
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"description", "summary"} and isinstance(value, str):
                yield where, value
            else:
                yield from _texts(value, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            yield from _texts(item, where)


INTERNAL_WORDS = re.compile(
    r"serializer|queryset|get_queryset|selector|services?\.py|``|\bSPEC\b", re.IGNORECASE
)


def test_descriptions_are_written_for_a_client(schema):
    leaks = [(where, text) for where, text in _texts(schema) if INTERNAL_WORDS.search(text)]
    assert leaks == []


def test_every_operation_has_a_summary_and_a_description(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method} {path}"
            assert operation.get("description"), f"{method} {path}"
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), f"{method} {path} {parameter['name']}"


def test_api_key_scheme_says_what_the_header_looks_like(schema):
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert scheme["name"] == "Authorization"
    assert "`Authorization: Api-Key <key>`" in scheme["description"]


def test_bulk_csv_body_names_every_accepted_column(schema):
    body = schema["paths"]["/api/customers/bulk"]["post"]["requestBody"]["content"]["text/csv"]
    description = body["schema"]["description"]
    for column in ("external_id", "score", "preapproved_at", "name", "email"):
        assert f"`{column}`" in description
    assert "any order" in description


def _examples(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example" and isinstance(value, str):
                yield value
            else:
                yield from _examples(value)
    elif isinstance(node, list):
        for item in node:
            yield from _examples(item)


def test_example_urls_are_this_apis(schema):
    urls = [value for value in _examples(schema) if "://" in value]
    assert urls, "pages show example next/previous URLs"
    assert all(url.startswith("http://127.0.0.1:8000/api/") for url in urls), urls


def _enums(node):
    if isinstance(node, dict):
        if "enum" in node and isinstance(node["enum"], list):
            yield node
        for value in node.values():
            yield from _enums(value)
    elif isinstance(node, list):
        for item in node:
            yield from _enums(item)


def test_every_enum_in_the_schema_names_its_values(schema):
    unnamed = [enum["enum"] for enum in _enums(schema) if "x-enum-varnames" not in enum]
    # The delinquent filter's true/false is a plain inline enum of two strings.
    assert all(all(isinstance(v, str) for v in values) for values in unnamed), unnamed
    for component in schema["components"]["schemas"].values():
        if "enum" in component:
            assert len(component["x-enum-varnames"]) == len(component["enum"])
