from datetime import UTC, datetime
from decimal import Decimal

import pytest

from customers.bulk import BULK_MAX_ROWS
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

URL = "/api/customers/bulk"


def post_json(client, rows, url=URL):
    return client.post(url, rows, format="json")


def post_csv(client, text: str, content_type: str = "text/csv"):
    return client.post(URL, data=text.encode(), content_type=content_type)


def assert_rows_refused(response, expected: dict[str, str]) -> None:
    """400 ``invalid_rows`` naming exactly the expected ``"<row>.<field>"`` keys; nothing stored."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid_rows"
    assert body["message"]
    assert set(body["fields"]) == set(expected), body["fields"]
    for key, fragment in expected.items():
        assert any(fragment in message for message in body["fields"][key]), body["fields"][key]
    assert body["invalid_rows"] == sorted({int(key.split(".")[0]) for key in expected})
    assert not Customer.objects.exists()


def test_json_list_creates_every_customer(client):
    rows = [
        {"external_id": "c-1", "score": "5000000", "name": "Ana", "email": "ana@example.com"},
        {"external_id": "c-2", "score": 0, "preapproved_at": "2024-01-05T10:00:00Z"},
        {"external_id": "c-3", "score": 1500.5, "preapproved_at": None},
    ]
    response = post_json(client, rows)
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 3}
    stored = {c.external_id: c for c in Customer.objects.all()}
    assert stored["c-1"].score == Decimal("5000000.00")
    assert stored["c-1"].name == "Ana"
    assert stored["c-1"].status == Customer.Status.ACTIVE
    assert stored["c-2"].preapproved_at == datetime(2024, 1, 5, 10, tzinfo=UTC)
    assert stored["c-3"].score == Decimal("1500.50")
    assert stored["c-3"].preapproved_at is None
    assert stored["c-3"].email == ""


def test_trailing_slash_and_empty_list(client):
    response = post_json(client, [], url=URL + "/")
    assert response.status_code == 201
    assert response.json() == {"created": 0}


def test_csv_body_creates_every_customer(client):
    text = (
        "\ufeffexternal_id,score,preapproved_at,name,email\r\n"
        'c-1,100.50,2024-01-05T10:00:00+07:00,"Doe, Jane",jane@example.com\r\n'
        'c-2,0,,"Quote ""Q"" and\nnewline",\r\n'
        "\r\n"
        "c-3,7,,,\r\n"
    )
    response = post_csv(client, text, content_type="text/csv; charset=utf-8")
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 3}
    stored = {c.external_id: c for c in Customer.objects.all()}
    assert stored["c-1"].name == "Doe, Jane"
    assert stored["c-1"].preapproved_at == datetime(2024, 1, 5, 3, tzinfo=UTC)
    assert stored["c-2"].name == 'Quote "Q" and\nnewline'
    assert stored["c-2"].preapproved_at is None
    assert stored["c-3"].score == Decimal("7.00")


def test_csv_columns_may_come_in_any_order_and_optional_ones_may_be_left_out(client):
    response = post_csv(client, "score,external_id\n10,a\n20,b\n")
    assert response.status_code == 201
    assert sorted(Customer.objects.values_list("external_id", "score")) == [
        ("a", Decimal("10.00")),
        ("b", Decimal("20.00")),
    ]


BAD_ROWS = [
    ({"score": "10"}, "external_id", "required"),
    ({"external_id": "", "score": "10"}, "external_id", "blank"),
    ({"external_id": None, "score": "10"}, "external_id", "null"),
    ({"external_id": "x" * 61, "score": "10"}, "external_id", "60"),
    ({"external_id": "balance", "score": "10"}, "external_id", "reserved"),
    ({"external_id": "bulk", "score": "10"}, "external_id", "reserved"),
    ({"external_id": "a"}, "score", "required"),
    ({"external_id": "a", "score": "lots"}, "score", "valid number"),
    ({"external_id": "a", "score": "-1"}, "score", "negative"),
    ({"external_id": "a", "score": "1.001"}, "score", "decimal places"),
    ({"external_id": "a", "score": "1234567890123"}, "score", "12 digits"),
    ({"external_id": "a", "score": True}, "score", "valid number"),
    ({"external_id": "a", "score": "1", "preapproved_at": "yesterday"}, "preapproved_at", "format"),
    (
        {"external_id": "a", "score": "1", "preapproved_at": "2024-02-30T10:00:00Z"},
        "preapproved_at",
        "format",
    ),
    ({"external_id": "a", "score": "1", "email": "not-an-email"}, "email", "valid email"),
    ({"external_id": "a", "score": "1", "name": "n" * 201}, "name", "200"),
    ({"external_id": "a", "score": "1", "colour": "red"}, "colour", "Unknown field"),
]


@pytest.mark.parametrize(("bad", "field", "fragment"), BAD_ROWS)
def test_one_bad_json_row_refuses_the_whole_batch(client, bad, field, fragment):
    rows = [{"external_id": "good-1", "score": "1"}, bad, {"external_id": "good-2", "score": "2"}]
    assert_rows_refused(post_json(client, rows), {f"2.{field}": fragment})


def test_every_bad_row_is_named(client):
    rows = [
        {"external_id": "ok", "score": "1"},
        {"external_id": "bulk", "score": "-5"},
        "not an object",
        {"external_id": "ok-2", "score": "1.5", "email": "x@"},
    ]
    assert_rows_refused(
        post_json(client, rows),
        {
            "2.external_id": "reserved",
            "2.score": "negative",
            "3.non_field_errors": "Expected a dictionary",
            "4.email": "valid email",
        },
    )


def test_json_number_with_three_decimals_is_refused(client):
    raw = '[{"external_id": "a", "score": 10.005}]'
    response = client.post(URL, raw, content_type="application/json")
    assert_rows_refused(response, {"1.score": "decimal places"})


def test_bad_csv_rows_are_named_by_row_number(client):
    text = (
        "external_id,score,preapproved_at,name,email\n"
        "c-1,1,,,\n"
        "c-2,-1,,,\n"  # row 2
        "balance,1,,,\n"  # row 3
        "c-4,1.234,not-a-date,,bad-email\n"  # row 4
        ",1,,,\n"  # row 5
        "c-6,1,,,,surplus\n"  # row 6
    )
    assert_rows_refused(
        post_csv(client, text),
        {
            "2.score": "negative",
            "3.external_id": "reserved",
            "4.score": "decimal places",
            "4.preapproved_at": "format",
            "4.email": "valid email",
            "5.external_id": "required",
            "6.column_6": "Unknown field",
        },
    )


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("external_id,score,colour", "Unknown column 'colour'"),
        ("external_id,name", "Missing column 'score'"),
        ("external_id,score,score", "more than once"),
    ],
)
def test_bad_csv_header_is_400_and_nothing_stored(client, header, fragment):
    response = post_csv(client, f"{header}\na,1,x\n")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert any(fragment in message for message in body["fields"]["header"])
    assert not Customer.objects.exists()


def test_csv_that_is_not_utf8_is_400_malformed(client):
    response = client.post(URL, data=b"\xff\xfe not utf-8", content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert not Customer.objects.exists()


@pytest.mark.parametrize("content_type", ["text/csv", "application/json"])
def test_an_empty_body_is_400(client, content_type):
    response = client.post(URL, data=b"", content_type=content_type)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_duplicates_inside_the_request_are_bad_rows(client):
    rows = [
        {"external_id": "a", "score": "1"},
        {"external_id": "b", "score": "1"},
        {"external_id": "a", "score": "2"},
    ]
    assert_rows_refused(post_json(client, rows), {"3.external_id": "Duplicate of row 1"})


def test_duplicates_inside_a_csv_body_are_bad_rows(client):
    assert_rows_refused(
        post_csv(client, "external_id,score\nx,1\nx,2\n"), {"2.external_id": "Duplicate of row 1"}
    )


def test_external_ids_already_stored_are_bad_rows(client):
    CustomerFactory(external_id="taken")
    rows = [{"external_id": "new", "score": "1"}, {"external_id": "taken", "score": "1"}]
    response = post_json(client, rows)
    assert response.status_code == 400
    body = response.json()
    assert body["fields"] == {"2.external_id": ["A customer with this external_id already exists."]}
    assert list(Customer.objects.values_list("external_id", flat=True)) == ["taken"]


def test_more_rows_than_the_limit_is_413(client):
    rows = [{"external_id": f"c-{i}", "score": "1"} for i in range(BULK_MAX_ROWS + 1)]
    response = post_json(client, rows)
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "too_many_rows"
    assert str(BULK_MAX_ROWS) in body["message"]
    assert not Customer.objects.exists()


def test_body_over_the_byte_limit_is_413_before_parsing(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = post_csv(client, "external_id,score\n" + "".join(f"c-{i},1\n" for i in range(50)))
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"
    assert not Customer.objects.exists()


def test_a_json_object_instead_of_a_list_is_400(client):
    response = post_json(client, {"external_id": "a", "score": "1"})
    assert response.status_code == 400
    assert "non_field_errors" in response.json()["fields"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/x-www-form-urlencoded", b"external_id=a&score=1"), ("text/plain", b"a,1")],
)
def test_wrong_content_type_is_415(client, content_type, body):
    response = client.post(URL, data=body, content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert not Customer.objects.exists()


def test_needs_an_api_key(anon_client):
    response = anon_client.post(URL, [{"external_id": "a", "score": "1"}], format="json")
    assert response.status_code in (401, 403)
    assert not Customer.objects.exists()


def test_bulk_is_not_read_as_an_external_id(client):
    assert client.get(URL).status_code == 405


def test_ten_thousand_rows_take_a_few_queries(client, django_assert_max_num_queries):
    rows = [{"external_id": f"c-{i}", "score": "100.00"} for i in range(BULK_MAX_ROWS)]
    with django_assert_max_num_queries(8):
        response = post_json(client, rows)
    assert response.status_code == 201
    assert Customer.objects.count() == BULK_MAX_ROWS
