import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from customers.importing import ImportFailed, customer_import
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,score,preapproved_at,name,email\n"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_customers", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(path: Path, *args: str) -> str:
    """Run the command expecting failure; return what it wrote to stderr."""
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_customers", str(path), *args, stdout=StringIO(), stderr=err)
    return err.getvalue()


def stored() -> dict[str, Customer]:
    return {c.external_id: c for c in Customer.objects.all()}


def test_csv_import_stores_every_row_and_prints_a_summary(tmp_path):
    path = write(
        tmp_path,
        "customers.csv",
        HEADER
        + "c-1,5000000,2024-01-05T10:00:00Z,Ana,ana@example.com\n"
        + 'c-2,0,,"Doe, Jane",\n'
        + "c-3,12.5,2024-01-05 10:00:00, Padded name ,Bob.Smith+x@Mail.Example.co.id\n",
    )
    out, _ = run(path)
    assert "Imported 3 customers" in out
    assert "rows/s" in out
    customers = stored()
    assert customers["c-1"].score == Decimal("5000000.00")
    assert customers["c-1"].preapproved_at == datetime(2024, 1, 5, 10, tzinfo=UTC)
    assert customers["c-1"].status == Customer.Status.ACTIVE
    assert customers["c-2"].name == "Doe, Jane"
    assert customers["c-2"].email == ""
    assert customers["c-2"].preapproved_at is None
    assert customers["c-3"].score == Decimal("12.50")
    assert customers["c-3"].name == "Padded name"  # trimmed, as the API does
    assert customers["c-3"].preapproved_at == datetime(2024, 1, 5, 10, tzinfo=UTC)


def test_values_outside_the_plain_form_are_judged_like_the_api(tmp_path):
    # Forms that the serializer accepts although SQL does not recognise them.
    path = write(
        tmp_path,
        "odd.csv",
        HEADER
        + "c-1,000000000000012,2024-01-05,,\n"
        + "c-2,7,2024-01-05T10:00:00.1234567+05:30,,  A@B.CO  \n"
        + "c-3,0001.10,,\u00a0José\u00a0,\n",
    )
    run(path)
    customers = stored()
    assert customers["c-1"].score == Decimal("12.00")
    assert customers["c-1"].preapproved_at == datetime(2024, 1, 5, tzinfo=UTC)
    assert customers["c-2"].preapproved_at == datetime(2024, 1, 5, 4, 30, 0, 123456, tzinfo=UTC)
    assert customers["c-2"].email == "A@B.CO"
    assert customers["c-3"].score == Decimal("1.10")
    assert customers["c-3"].name == "José"


def test_json_import(tmp_path):
    rows = [
        {"external_id": "j-1", "score": 1500.5, "preapproved_at": None, "name": "Ana"},
        {"external_id": "j-2", "score": "0", "email": "j2@example.com"},
        {"external_id": "3", "score": 10},
    ]
    text = json.dumps(rows)[:-1] + ', {"external_id": "j-4", "score": 1e3}]'
    path = write(tmp_path, "customers.json", text)
    out, _ = run(path)
    assert "Imported 4 customers" in out
    customers = stored()
    assert customers["j-1"].score == Decimal("1500.50")
    assert customers["j-2"].email == "j2@example.com"
    assert customers["3"].score == Decimal("10.00")
    assert customers["j-4"].score == Decimal("1000.00")  # a JSON number, as the API reads it


def test_json_import_refuses_a_number_for_a_string_as_the_api_does(tmp_path):
    rows = [{"external_id": "j-1", "score": 1}, {"external_id": 3, "score": 10, "name": 0}]
    path = write(tmp_path, "customers.json", json.dumps(rows))
    err = StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_customers", str(path), stdout=StringIO(), stderr=err)
    assert "record 2" in err.getvalue()
    assert "external_id" in err.getvalue() and "name" in err.getvalue()
    assert not Customer.objects.exists()


def test_format_option_overrides_the_suffix(tmp_path):
    path = write(tmp_path, "customers.txt", HEADER + "c-1,1,,,\n")
    run(path, "--format", "csv")
    assert list(stored()) == ["c-1"]


def test_unknown_suffix_without_format_is_an_error(tmp_path):
    path = write(tmp_path, "customers.txt", HEADER)
    with pytest.raises(CommandError, match="--format"):
        run(path)


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "nope.csv")


def test_bad_lines_are_named_and_nothing_is_stored(tmp_path):
    path = write(
        tmp_path,
        "bad.csv",
        HEADER
        + "ok-1,1,,,\n"  # line 2
        + "balance,1,,,\n"  # line 3
        + "c-4,-1,,,\n"  # line 4
        + "c-5,1.001,,,\n"  # line 5
        + "c-6,1234567890123,,,\n"  # line 6
        + "c-7,1,2024-02-30T10:00:00Z,,\n"  # line 7
        + "c-8,1,,,not-an-email\n"  # line 8
        + f"{'x' * 61},1,,,\n"  # line 9
        + ",1,,,\n"  # line 10
        + "c-11,,,,\n"  # line 11
        + f"c-12,1,,{'n' * 201},\n"  # line 12
        + "c-13,lots,,,\n"  # line 13
        + "ok-1,2,,,\n"  # line 14: repeats line 2
        + "c-15,1,,,,surplus\n",  # line 15
    )
    err = refused(path)
    expected = [
        "line 3, external_id: 'balance' is a reserved word.",
        "line 4, score: Must not be negative.",
        "line 5, score: Ensure that there are no more than 2 decimal places.",
        "line 6, score: Ensure that there are no more than 12 digits before the decimal point.",
        "line 7, preapproved_at: Datetime has wrong format.",
        "line 8, email: Enter a valid email address.",
        "line 9, external_id: Ensure this field has no more than 60 characters.",
        "line 10, external_id: This field is required.",
        "line 11, score: This field is required.",
        "line 12, name: Ensure this field has no more than 200 characters.",
        "line 13, score: A valid number is required.",
        "line 14, external_id: Repeated external_id; first on line 2.",
        "line 15, column_6: Unknown field.",
    ]
    for message in expected:
        assert message in err, err
    assert not Customer.objects.exists()


def test_line_numbers_count_physical_lines_when_quoted_values_span_lines(tmp_path):
    path = write(
        tmp_path,
        "multiline.csv",
        HEADER + 'c-1,1,,"two\nlines",\n' + "c-2,-1,,,\n",  # c-2 starts on line 4
    )
    err = refused(path)
    assert "line 4, score: Must not be negative." in err


def test_structurally_broken_records_are_read_again_and_named(tmp_path):
    # A short record and bad UTF-8 make COPY refuse the file: the exact reading decides.
    content = HEADER.encode() + b"c-1,1\n" + b"c-2,1,,caf\xe9,\n"
    err = refused(write(tmp_path, "broken.csv", content))
    assert "line 3, name: Surrogate characters are not allowed" in err
    assert not Customer.objects.exists()


def test_short_records_are_fine_when_nothing_else_is_wrong(tmp_path):
    run(write(tmp_path, "short.csv", HEADER + "c-1,1\nc-2,2,,Bob\n"))
    assert stored()["c-2"].name == "Bob"


def test_external_ids_already_stored_are_bad_lines(tmp_path):
    CustomerFactory(external_id="taken")
    err = refused(write(tmp_path, "taken.csv", HEADER + "new,1,,,\ntaken,1,,,\n"))
    assert "line 3, external_id: A customer with this external_id already exists." in err
    assert list(stored()) == ["taken"]


def test_skip_existing_imports_the_new_and_leaves_the_stored(tmp_path):
    CustomerFactory(external_id="taken", score=Decimal("5.00"))
    out, _ = run(
        write(tmp_path, "taken.csv", HEADER + "new,1,,,\ntaken,99,,,\n"), "--skip-existing"
    )
    assert "Imported 1 customers, skipped 1 already stored" in out
    assert stored()["taken"].score == Decimal("5.00")
    assert stored()["new"].score == Decimal("1.00")


def test_skip_existing_still_refuses_ids_repeated_in_the_file(tmp_path):
    path = write(tmp_path, "rep.csv", HEADER + "a,1,,,\nb,1,,,\na,2,,,\n")
    err = refused(path, "--skip-existing")
    assert "line 4, external_id: Repeated external_id; first on line 2." in err
    assert not Customer.objects.exists()


def test_bad_json_records_are_named(tmp_path):
    rows = [
        {"external_id": "ok", "score": 1},
        {"external_id": "bulk", "score": "1"},
        {"external_id": "c-3", "score": -1, "colour": "red"},
        ["not", "an", "object"],
        {"external_id": "c-5", "score": 1, "name": None},
        {"external_id": "ok", "score": 1},
    ]
    err = refused(write(tmp_path, "bad.json", json.dumps(rows)))
    for message in [
        "record 2, external_id: 'bulk' is a reserved word.",
        "record 3, colour: Unknown field.",
        "record 4, non_field_errors: Invalid data. Expected a dictionary",
        "record 5, name: This field may not be null.",
        "record 6, external_id: Repeated external_id; first on record 1.",
    ]:
        assert message in err, err
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"external_id": "a", "score": 1}', "must hold a JSON array"),
        ('[{"external_id": "a", "score": 1}, {"external_id": ', "Malformed JSON"),
    ],
)
def test_json_that_is_not_an_array_of_objects_is_refused(tmp_path, content, message):
    err = refused(write(tmp_path, "bad.json", content))
    assert message in err
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("external_id,score,colour", "line 1: Unknown column 'colour'."),
        ("external_id,name", "line 1: Missing column 'score'."),
    ],
)
def test_bad_header_is_refused(tmp_path, header, message):
    err = refused(write(tmp_path, "bad.csv", f"{header}\na,1,x\n"))
    assert message in err


def test_at_most_max_errors_are_named_then_a_count_of_the_rest(tmp_path):
    path = write(tmp_path, "many.csv", HEADER + "".join(f"c-{i},-1,,,\n" for i in range(120)))
    err = refused(path)
    assert err.count("Must not be negative.") == 50
    assert "… and 70 more." in err


def test_service_reports_rows_and_speed(tmp_path):
    path = write(tmp_path, "c.csv", HEADER + "".join(f"c-{i},1,,,\n" for i in range(500)))
    result = customer_import(path=path)
    assert (result.rows, result.created, result.skipped) == (500, 500, 0)
    assert result.rows_per_second > 0
    with pytest.raises(ImportFailed) as failed:
        customer_import(path=path)
    assert failed.value.total == 500
    assert Customer.objects.count() == 500
