"""Request ids in and out, and the JSON log lines (docs/operations.md lists the fields)."""

import uuid
from datetime import datetime

import pytest
from django.core.signals import got_request_exception
from django.test import Client

from mo_loans.logging_json import current_request_id
from mo_loans.observability.middleware import request_id_from

pytestmark = pytest.mark.django_db

REQUEST_LINE_FIELDS = {
    "time",
    "level",
    "logger",
    "message",
    "event",
    "request_id",
    "method",
    "view",
    "route",
    "path",
    "status",
    "duration_ms",
    "remote_addr",
}


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except ValueError:
        return False


def test_an_incoming_request_id_is_kept_and_returned(anon_client, json_logs):
    response = anon_client.get("/healthz", HTTP_X_REQUEST_ID="lb-7f3a.1:2_x")
    assert response["X-Request-ID"] == "lb-7f3a.1:2_x"
    (line,) = json_logs.events("http_request")
    assert line["request_id"] == "lb-7f3a.1:2_x"


def test_without_a_request_id_one_is_made(anon_client):
    first = anon_client.get("/healthz")["X-Request-ID"]
    second = anon_client.get("/healthz")["X-Request-ID"]
    assert is_uuid4(first) and is_uuid4(second) and first != second


@pytest.mark.parametrize(
    "unsafe",
    [
        "",
        "x" * 129,
        "has space",
        "new\nline",
        '"quoted"',
        "-leading-dash",
        "ümlaut",
        "a;b",
    ],
)
def test_an_unsafe_request_id_is_replaced(unsafe):
    made = request_id_from(unsafe)
    assert made != unsafe and is_uuid4(made)


def test_the_longest_safe_request_id_is_kept():
    assert request_id_from("a" * 128) == "a" * 128


def test_errors_carry_the_request_id_too(anon_client):
    sent = {"HTTP_X_REQUEST_ID": "err-check-1"}
    assert anon_client.get("/no/such/page", **sent)["X-Request-ID"] == "err-check-1"
    assert anon_client.get("/api/no-such-route", **sent)["X-Request-ID"] == "err-check-1"
    assert anon_client.get("/api/customers", **sent)["X-Request-ID"] == "err-check-1"
    bad_host = anon_client.get("/healthz", HTTP_HOST="evil.example", **sent)
    assert bad_host.status_code == 400
    assert bad_host["X-Request-ID"] == "err-check-1"


@pytest.mark.urls("tests.ops.urls")
def test_a_server_error_carries_the_request_id_and_is_logged(json_logs):
    client = Client(raise_request_exception=False)
    response = client.get("/ops-test/boom", HTTP_X_REQUEST_ID="boom-1")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "boom-1"
    lines = [line for line in json_logs.all() if line["request_id"] == "boom-1"]
    assert {line["logger"] for line in lines} >= {"django.request", "mo_loans.request"}
    error = next(line for line in lines if line["logger"] == "django.request")
    assert error["level"] == "ERROR" and "RuntimeError: boom" in error["exc_info"]


@pytest.mark.urls("tests.ops.urls")
def test_a_bug_in_an_api_view_is_one_real_500(json_logs):
    """The DRF handler leaves what it does not know to Django: one signal, one error line."""
    seen = []

    def count(sender, **kwargs):
        seen.append(kwargs["request"].path)

    got_request_exception.connect(count)
    try:
        client = Client(raise_request_exception=False)
        response = client.get("/ops-test/api-boom", HTTP_X_REQUEST_ID="api-boom-1")
    finally:
        got_request_exception.disconnect(count)
    assert response.status_code == 500
    assert response.json() == {"code": "server_error", "message": "An unexpected error occurred."}
    assert seen == ["/ops-test/api-boom"]
    lines = [line for line in json_logs.all() if line["request_id"] == "api-boom-1"]
    errors = [line for line in lines if line["level"] == "ERROR"]
    assert [line["logger"] for line in errors] == ["django.request"]
    assert "RuntimeError: api boom" in errors[0]["exc_info"]


def test_one_json_line_per_request_with_the_documented_fields(client, json_logs):
    response = client.get("/api/customers/", {"page": 1}, HTTP_X_REQUEST_ID="fields-1")
    assert response.status_code == 200
    (line,) = json_logs.events("http_request")
    assert set(line) == REQUEST_LINE_FIELDS
    assert line["logger"] == "mo_loans.request"
    assert line["level"] == "INFO"
    assert line["method"] == "GET"
    assert line["path"] == "/api/customers/"
    assert line["route"].startswith("api/customers")
    assert line["view"] != "<unresolved>"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["remote_addr"] == "127.0.0.1"
    assert line["request_id"] == response["X-Request-ID"] == "fields-1"
    assert datetime.fromisoformat(line["time"]).tzinfo is not None


def test_no_api_key_reaches_the_logs(client, api_key, json_logs):
    client.get("/api/customers", HTTP_X_REQUEST_ID="secret-check")
    client.post("/api/customers", {"external_id": "x"}, format="json")
    assert api_key not in "\n".join(str(line) for line in json_logs.all())


def test_the_request_id_is_cleared_after_the_request(anon_client):
    anon_client.get("/healthz", HTTP_X_REQUEST_ID="gone-after")
    assert current_request_id() == ""


def test_log_lines_outside_a_request_say_so(json_logs):
    import logging

    logging.getLogger("mo_loans.events").info("background work")
    (line,) = json_logs.all()
    assert line["request_id"] == "-"
    assert line["message"] == "background work"
