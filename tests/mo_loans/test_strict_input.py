"""Input read one way only: bounded date-times, JSON integers, plain numbers, unique keys."""

import json
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from customers.models import Customer
from loans.models import Loan
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db

# Far east and far west of UTC: every stored instant must be shown in both.
TIME_ZONES = ["Pacific/Kiritimati", "Pacific/Pago_Pago"]


def post_json(client, path, text: str):
    return client.generic("POST", path, text.encode(), content_type="application/json")


# --- date-times ----------------------------------------------------------------------


@pytest.mark.parametrize("time_zone", ["UTC", *TIME_ZONES])
@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "1899-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
        "2201-01-01T00:00:00+14:00",
        "1899-12-31T23:00:00-12:00",
        "1899-12-31",
    ],
)
def test_preapproved_at_outside_1900_to_2200_is_400(client, settings, time_zone, value):
    settings.TIME_ZONE = time_zone
    response = client.post(
        "/api/customers", {"external_id": "c1", "score": "1", "preapproved_at": value}, "json"
    )
    assert response.status_code == 400, response.content
    assert "preapproved_at" in response.json()["fields"]


@pytest.mark.parametrize("time_zone", TIME_ZONES)
def test_the_bounds_are_accepted_and_every_page_still_reads(client, settings, time_zone):
    edges = [
        ("first", "1900-01-01T00:00:00+14:00"),
        ("last", "2200-12-31T23:59:59-12:00"),
        ("naive", "2200-12-31T23:59:59"),
    ]
    for external_id, value in edges:
        response = client.post(
            "/api/customers",
            {"external_id": external_id, "score": "1", "preapproved_at": value},
            format="json",
        )
        assert response.status_code == 201, response.content
    settings.TIME_ZONE = time_zone
    listed = client.get("/api/customers")
    assert listed.status_code == 200
    assert listed.json()["count"] == 3


@pytest.mark.parametrize("time_zone", ["UTC", *TIME_ZONES])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00Z", "0001-01-01", "1899-12-31T12:00:00Z"])
def test_taken_at_outside_the_range_is_400_and_the_loan_stays_pending(
    client, settings, time_zone, value
):
    settings.TIME_ZONE = time_zone
    loan = make_loan(external_id="L1", amount="100", term_weeks=2)
    response = client.post("/api/loans/L1/activate", {"taken_at": value}, format="json")
    assert response.status_code == 400, response.content
    assert "taken_at" in response.json()["fields"]
    loan.refresh_from_db()
    assert loan.status == Loan.Status.PENDING
    assert client.get("/api/loans").status_code == 200


def import_csv(tmp_path, rows: str) -> str:
    path = tmp_path / "customers.csv"
    path.write_text("external_id,score,preapproved_at\n" + rows, encoding="utf-8")
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_customers", str(path), stdout=StringIO(), stderr=err)
    return err.getvalue()


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York", "Asia/Jakarta"])
def test_import_refuses_date_times_outside_the_range_in_any_time_zone(
    tmp_path, settings, time_zone
):
    settings.TIME_ZONE = time_zone
    err = import_csv(
        tmp_path,
        "ok,1,2024-01-05T10:00:00Z\n"
        "far,1,9999-12-31T23:59:59Z\n"
        "early,1,0001-01-01T00:00:00Z\n"
        "late,1,2201-01-01T00:00:00+14:00\n"
        "early-naive,1,1899-12-31T23:59:59\n"
        "year-1000,1,1000-06-01T00:00:00Z\n"
        "edge-west,1,2200-12-31T23:59:59-12:00\n"
        "edge-east,1,1900-01-01T00:00:00+14:00\n",
    )
    for line in (3, 4, 5, 6, 7):
        expected = f"line {line}, preapproved_at: Must be a date-time in the years 1900 to 2200."
        assert expected in err, err
    for line in (2, 8, 9):
        assert f"line {line}," not in err, err
    assert not Customer.objects.exists()


def test_import_takes_naive_date_times_in_the_server_time_zone(tmp_path, settings):
    settings.TIME_ZONE = "Pacific/Kiritimati"
    path = tmp_path / "customers.csv"
    path.write_text(
        "external_id,score,preapproved_at\nlast,1,2200-12-31T23:00:00\nfirst,1,1900-01-01\n",
        encoding="utf-8",
    )
    call_command("import_customers", str(path), stdout=StringIO(), stderr=StringIO())
    last = Customer.objects.get(external_id="last").preapproved_at
    assert last == datetime(2200, 12, 31, 9, tzinfo=UTC)  # UTC+14 that day


def test_import_accepts_the_range_edges_in_utc(tmp_path):
    path = tmp_path / "customers.csv"
    path.write_text(
        "external_id,score,preapproved_at\n"
        "first,1,1900-01-01T00:00:00Z\nlast,1,2200-12-31T23:59:59.999999-12:00\n",
        encoding="utf-8",
    )
    call_command("import_customers", str(path), stdout=StringIO(), stderr=StringIO())
    assert Customer.objects.get(external_id="first").preapproved_at == datetime(
        1900, 1, 1, tzinfo=UTC
    )
    assert Customer.objects.get(external_id="last").preapproved_at.year == 2201  # in UTC


# --- integers and money --------------------------------------------------------------


@pytest.mark.parametrize("term_weeks", ["5.0", "1e1", '"5"', "true", "5.5", '"five"'])
def test_term_weeks_must_be_a_json_integer(client, term_weeks):
    customer = CustomerFactory()
    text = (
        f'{{"external_id": "L1", "customer_external_id": "{customer.external_id}",'
        f' "amount": "100", "term_weeks": {term_weeks}}}'
    )
    response = post_json(client, "/api/loans", text)
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["term_weeks"] == ["Must be a JSON integer, such as 5."]
    assert not Loan.objects.exists()


def test_term_weeks_as_a_json_integer_is_taken(client):
    customer = CustomerFactory()
    text = (
        f'{{"external_id": "L1", "customer_external_id": "{customer.external_id}",'
        ' "amount": 100, "term_weeks": 5}'
    )
    response = post_json(client, "/api/loans", text)
    assert response.status_code == 201, response.content
    assert response.json()["term_weeks"] == 5


@pytest.mark.parametrize("amount", ["1e3", "1E3", "1000e0", "1.5e-1", '"1e3"', '"1000.0e0"'])
def test_money_with_an_exponent_is_refused(client, amount):
    customer = CustomerFactory()
    text = (
        f'{{"external_id": "L1", "customer_external_id": "{customer.external_id}",'
        f' "amount": {amount}}}'
    )
    response = post_json(client, "/api/loans", text)
    assert response.status_code == 400, response.content
    assert "amount" in response.json()["fields"]


@pytest.mark.parametrize(
    ("amount", "stored"),
    [("1000", "1000.00"), ("5.0", "5.00"), ('"5"', "5.00"), ('"110000.50"', "110000.50")],
)
def test_money_as_a_plain_number_or_string_is_taken(client, amount, stored):
    customer = CustomerFactory()
    text = (
        f'{{"external_id": "L1", "customer_external_id": "{customer.external_id}",'
        f' "amount": {amount}, "interest_rate": 0}}'
    )
    response = post_json(client, "/api/loans", text)
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == stored


def test_the_schema_says_term_weeks_is_an_integer_and_money_has_no_exponent(client):
    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    loan = schema["components"]["schemas"]["LoanInputRequest"]["properties"]
    assert loan["term_weeks"]["type"] == "integer"
    assert "never 1.1e5" in loan["amount"]["description"]


def test_the_schema_bounds_date_times_as_the_api_does(client):
    import re

    schema = client.get("/api/schema", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    for component, field in (
        ("CustomerInputRequest", "preapproved_at"),
        ("LoanActivateInputRequest", "taken_at"),
    ):
        pattern = re.compile(components[component]["properties"][field]["pattern"])
        assert pattern.match("1900-01-01T00:00:00Z") and pattern.match("2200-12-31")
        assert not pattern.match("1899-12-31T00:00:00Z")
        assert not pattern.match("2201-01-01")
        assert not pattern.match("0001-01-01")


# --- duplicate keys ------------------------------------------------------------------


def test_a_key_given_twice_is_400_not_last_wins(client):
    response = post_json(
        client, "/api/customers", '{"external_id": "c1", "score": "1", "score": "900000"}'
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert "duplicate key 'score'" in response.json()["message"]
    assert not Customer.objects.exists()


def test_a_key_given_twice_in_one_bulk_row_is_400(client):
    rows = [{"external_id": "a", "score": "1"}, {"external_id": "b", "score": "2"}]
    text = json.dumps(rows)[:-2] + ', "external_id": "c"}]'
    response = post_json(client, "/api/customers/bulk", text)
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert not Customer.objects.exists()


def test_a_key_given_twice_in_a_nested_object_is_400(client):
    response = post_json(
        client, "/api/customers/bulk", '[{"external_id": "a", "x": {"k": 1, "k": 2}}]'
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"


@pytest.mark.parametrize("value", ["9999-12-31 23:59:59+00", "0001-01-01 00:00:00+00"])
def test_the_database_refuses_date_times_no_time_zone_could_show(value):
    """So that no row, however written, can break a list page in another TIME_ZONE."""
    from django.db import IntegrityError, connection, transaction

    CustomerFactory(external_id="legacy")
    loan = make_loan(external_id="L1", amount="100", term_weeks=2, taken_at=timezone.now())
    for statement in (
        "UPDATE customers_customer SET preapproved_at = %s WHERE external_id = 'legacy'",
        f"UPDATE loans_loan SET taken_at = %s WHERE id = {loan.pk}",
    ):
        with (
            pytest.raises(IntegrityError, match="_range"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [value])
