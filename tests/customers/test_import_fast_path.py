"""The import's SQL fast path never accepts a row the serializer would refuse.

Hostile rows (whitespace, unicode, control characters, over-long text, money
edge cases, bad ids, repeated ids, …) go into a real staging table on the test
PostgreSQL; the fast path's verdict on each is compared with that of
``CustomerInputSerializer`` (the API's customer create rules), row by row, and
so are the values each would store. Then whole files: the import stores exactly
what the serializer and the one-id-once rule allow, or nothing.
"""

from __future__ import annotations

import csv
import io
import string
import uuid
from datetime import UTC, datetime, timedelta
from datetime import timezone as fixed_offset
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customers.bulk import CUSTOMER_COLUMNS, rows_validate
from customers.importing import ImportFailed, customer_import, fast_path
from customers.models import Customer
from customers.parsers import csv_columns, csv_record
from customers.rules import RESERVED_EXTERNAL_IDS

pytestmark = pytest.mark.django_db

ID_CHARACTERS = string.ascii_letters + string.digits + "._:@-"
# Whitespace Python strips and PostgreSQL may not, look-alikes, controls, separators.
HOSTILE = (
    " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2000\u2028\u2029\u202f\u3000"
    "\u200b\u200e\u202e\ufeff\x00\x01\x7f/%,;\"'\\_*+éßİ１٣\U0001f600"
)
SURROGATE = "\udce9"  # what bad UTF-8 becomes, read with surrogateescape


def timezone_of(hours: int, minutes: int) -> fixed_offset:
    return fixed_offset(timedelta(hours=hours, minutes=minutes))


def mixed(common: str, *, max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Text mostly of ``common`` characters, with hostile and arbitrary ones mixed in."""
    return st.text(
        alphabet=st.one_of(
            st.sampled_from(common), st.sampled_from(HOSTILE), st.characters(codec="utf-8")
        ),
        min_size=min_size,
        max_size=max_size,
    )


def edges(word: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A value, sometimes with whitespace or a control character around it."""
    pad = st.sampled_from(["", "", "", " ", "\t", "\xa0", "\u3000", "\n", "\x00", "\ufeff"])
    return st.builds(lambda a, w, b: a + w + b, pad, word, pad)


external_ids = st.one_of(
    st.text(alphabet=ID_CHARACTERS, min_size=0, max_size=64),
    st.integers(55, 66).map(lambda n: "i" * n),
    edges(st.text(alphabet=ID_CHARACTERS, min_size=1, max_size=12)),
    mixed(ID_CHARACTERS, max_size=70),
    st.sampled_from(
        [*sorted(RESERVED_EXTERNAL_IDS), "Balance", "BULK", "bulk ", "a/b", "a%2Fb", "١٢", ""]
    ),
)

digits = st.text(alphabet="0123456789", min_size=0, max_size=16)
scores_text = st.one_of(
    st.builds(
        lambda sign, whole, dot, frac: sign + whole + dot + frac,
        st.sampled_from(["", "", "", "+", "-", " ", "-0"]),
        digits,
        st.sampled_from(["", ".", ".", ","]),
        st.text(alphabet="0123456789", max_size=4),
    ),
    edges(st.decimals(min_value=0, max_value=10**13, places=2).map(str)),
    st.sampled_from(
        [
            "0",
            "-0",
            "0.00",
            "-0.0",
            "00",
            "0.",
            ".5",
            "5.",
            "1e3",
            "1E3",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "999999999999.99",
            "1000000000000",
            "0999999999999.99",
            "999999999999.999",
            "1_000",
            "１",
            "٣",
            "0x10",
            "1.0e-2",
            "½",
        ]
    ),
    mixed("0123456789.", max_size=20),
)
# JSON numbers as ijson gives them (int or Decimal), booleans and the like.
scores_json = st.one_of(
    st.integers(-(10**15), 10**15),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([True, False, None, [], {}, 1.5]),
)

two = st.integers(0, 99).map(lambda n: f"{n:02d}")
dates = st.one_of(
    st.builds(
        lambda y, m, d, sep, h, mi, sec, frac, off: (
            f"{y}-{m}-{d}{sep}{h}:{mi}{sec}{frac if sec else ''}{off}"
        ),
        st.one_of(st.integers(1895, 1905), st.integers(2195, 2205), st.integers(0, 9999)).map(
            lambda y: f"{y:04d}"
        ),
        st.integers(0, 13).map(lambda n: f"{n:02d}"),
        st.integers(0, 32).map(lambda n: f"{n:02d}"),
        st.sampled_from(["T", "T", " ", "t", "_", "  "]),
        st.integers(0, 25).map(lambda n: f"{n:02d}"),
        st.integers(0, 61).map(lambda n: f"{n:02d}"),
        st.one_of(st.just(""), st.integers(0, 61).map(lambda n: f":{n:02d}")),
        st.one_of(
            st.just(""),
            st.text(alphabet="0123456789", min_size=0, max_size=9).map(lambda f: "." + f),
            st.just(",5"),
        ),
        st.one_of(
            st.sampled_from(["", "Z", "z", "+00:00", "-00:00", "+05:30", "-23:59", "+24:00"]),
            st.builds(lambda s, h, m: f"{s}{h}:{m}", st.sampled_from("+-"), two, two),
            st.sampled_from(["+0530", "+05", "UTC", " Z", "Z ", "+05:30:00"]),
        ),
    ),
    st.sampled_from(
        [
            "2024-01-05",
            "2024-02-29T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2100-02-29T00:00Z",
            "2000-02-29T12:00Z",
            "1900-01-01T00:00:00+23:59",
            "2200-12-31T23:59:59-23:59",
            "2024-01-05T10:00:00.1234567+05:30",
            "20240105T100000Z",
            "epoch",
            "now",
            "2024-13-01T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-01-05T24:00:00Z",
            "2024-01-05T23:59:60Z",
            "２０２４-01-05T10:00:00Z",
        ]
    ),
    edges(st.just("2024-01-05T10:00:00Z")),
    mixed("0123456789-:TZ+", max_size=30),
)

names = st.one_of(
    mixed(string.ascii_letters + " ", max_size=30),
    st.builds(
        lambda pad, n: pad + "n" * n + pad,
        st.sampled_from(["", " ", "\u3000", "\x85"]),
        st.integers(195, 205),
    ),
    st.integers(195, 205).map(lambda n: "é" * n),
    st.sampled_from(["", " ", "\u3000", "\x00", "a\x00b", SURROGATE, "José", "\ufeff"]),
)

local = mixed(string.ascii_letters + string.digits + "._+-", max_size=20, min_size=0)
label = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=0, max_size=12)
domain = st.one_of(
    st.lists(label, min_size=1, max_size=4).map(".".join),
    mixed(string.ascii_lowercase + ".-", max_size=20),
    st.integers(55, 70).map(lambda n: "d" * n + ".com"),
)
tld = st.one_of(
    st.text(alphabet=string.ascii_letters, min_size=0, max_size=4),
    st.sampled_from(["c0m", "xn--p1ai", "рф", "-com"]),
)
# Dots and hyphens where an address may not have them: first, last, doubled, by the @.
dotted = st.builds(
    lambda lo, do, t: f"{lo}@{do}.{t}",
    st.text(alphabet="a.-_+", min_size=0, max_size=6),
    st.text(alphabet="b.-", min_size=0, max_size=6),
    st.sampled_from(["com", "co", "c", "c-m", ""]),
)
emails = st.one_of(
    dotted,
    st.builds(lambda lo, do, t: f"{lo}@{do}.{t}", local, domain, tld),
    edges(st.builds(lambda lo, do: f"{lo}@{do}.com", local, domain)),
    st.integers(240, 260).map(lambda n: "a" * (n - 12) + "@example.com"),
    st.sampled_from(
        [
            "",
            " ",
            "a@b.co",
            "A@B.CO",
            "a..b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a@-example.com",
            "a@example-.com",
            "a@example..com",
            "a@localhost",
            "a@[127.0.0.1]",
            '"a b"@example.com',
            "a@b@example.com",
            "a@ex ample.com",
            "ana@exämple.com",
        ]
    ),
)


# Values in a form the rules accept, for the rows that are mostly right.
plain_ids = st.text(alphabet=ID_CHARACTERS, min_size=1, max_size=60).filter(
    lambda v: v not in RESERVED_EXTERNAL_IDS
)
plain_scores = st.builds(
    lambda whole, frac: whole + frac,
    st.text(alphabet="0123456789", min_size=1, max_size=12),
    st.sampled_from(["", ".0", ".5", ".05", ".99"]),
)
plain_dates = st.builds(
    lambda moment, shape: shape(moment),
    st.datetimes(
        min_value=datetime(1900, 1, 1),
        max_value=datetime(2200, 12, 31, 23, 59, 59),
        timezones=st.sampled_from([UTC, timezone_of(5, 30), timezone_of(-23, -59)]),
    ),
    st.sampled_from(
        [
            lambda m: m.strftime("%Y-%m-%dT%H:%M:%SZ"),
            lambda m: m.isoformat(),
            lambda m: m.isoformat(sep=" "),
            lambda m: m.isoformat(timespec="minutes"),
            lambda m: m.replace(tzinfo=None).isoformat(),
            lambda m: m.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        ]
    ),
)
plain_names = st.text(alphabet=string.ascii_letters + " éß-'", max_size=200)
plain_emails = st.builds(
    lambda lo, do, t: f"{lo}@{do}.{t}",
    st.text(alphabet=string.ascii_letters + string.digits + "_+", min_size=1, max_size=20),
    st.one_of(
        st.text(alphabet=string.ascii_lowercase + string.digits, min_size=1, max_size=20),
        st.integers(60, 66).map(lambda n: "d" * n),  # a label has at most 63
    ),
    st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=6),
)

COLUMNS = {
    "external_id": (plain_ids, external_ids),
    "score": (plain_scores, scores_text),
    "preapproved_at": (plain_dates, dates),
    "name": (plain_names, names),
    "email": (plain_emails, emails),
}


@st.composite
def rows(draw, *, json_types: bool) -> Any:
    """One customer row as a reader hands it over: a CSV record or a JSON element.

    Each value is hostile one time in four, so that rows right but for one
    value are common, and rows right in every value too.
    """
    if json_types and draw(st.integers(0, 30)) == 0:
        return draw(st.sampled_from([[], "row", 1, None, ["a", "1"]]))
    row: dict[str, Any] = {}
    for column, (plain, hostile) in COLUMNS.items():
        if column in ("external_id", "score") and draw(st.integers(0, 20)) == 0:
            continue  # a required column missing now and then
        if column not in ("external_id", "score") and draw(st.booleans()):
            continue
        value = draw(plain) if draw(st.integers(0, 3)) else draw(hostile)
        if json_types:
            if column == "score" and draw(st.integers(0, 2)) == 0:
                value = draw(scores_json)
            elif draw(st.integers(0, 15)) == 0:
                value = draw(st.sampled_from([None, 0, 1, True, 1.5, ["x"], {"a": 1}]))
        row[column] = value
    if draw(st.integers(0, 25)) == 0:
        row["colour" if json_types else "column_6"] = "red"
    if not json_types:  # what csv_record gives: strings, and no empty cells
        row = {k: v for k, v in row.items() if v != ""}
    return row


def fast_path_judgement(batch: list[Any], *, json_types: bool) -> dict[int, tuple]:
    """Stage the rows as the import does; for each one the fast path accepts, what it stores."""
    stage = f"{fast_path.SCHEMA}.test_{uuid.uuid4().hex}"
    naive = timezone.get_current_timezone_name() == "UTC"
    condition, params = fast_path.fast_path_sql(naive_datetimes=naive)
    # A savepoint: should a statement fail, the next example still has a transaction.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(fast_path.stage_create_sql(stage))
        columns = ", ".join(fast_path.STAGING_COLUMNS)
        with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for line, row in enumerate(batch):
                values = fast_path.plain_values(row, json_types=json_types)
                if values is not None:
                    copy.write_row((line, *values, False, None, None))
        cursor.execute(
            f"SELECT s.line, {fast_path.STORED_VALUES} FROM {stage} s WHERE {condition}",
            {**params, **fast_path.stored_values_params()},
        )
        accepted = {line: tuple(values) for line, *values in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {stage}")
    return accepted


def serializer_judgement(batch: list[Any]) -> dict[int, tuple]:
    valid, _ = rows_validate(batch)
    return {
        index: tuple(data.get(column) for column in fast_path.STORED_COLUMNS)
        for index, data in valid
    }


def assert_fast_path_only_accepts_what_the_serializer_accepts(batch, *, json_types):
    fast = fast_path_judgement(batch, json_types=json_types)
    serializer = serializer_judgement(batch)
    for line, stored in fast.items():
        assert line in serializer, (
            f"the fast path accepts a row the serializer refuses: {batch[line]!r}"
        )
        assert stored == serializer[line], (batch[line], stored, serializer[line])


EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@EXAMPLES
@given(st.lists(rows(json_types=False), min_size=1, max_size=25))
@example(
    [
        {"external_id": "c-1", "score": "1500.50", "preapproved_at": "2024-01-05T10:00:00Z"},
        {"external_id": "c-1", "score": "0", "name": " Ana ", "email": "ana@example.com"},
        {"external_id": "bulk", "score": "1"},
        {"external_id": "c-2", "score": "1.001"},
        {"external_id": "c-3", "score": "1", "preapproved_at": "2023-02-29T00:00:00Z"},
        {"external_id": "c-4", "score": "1", "preapproved_at": "2024-01-05T10:00:00-16:00"},
        *(
            {"external_id": f"e-{n}", "score": "1", "email": email}
            for n, email in enumerate(
                [".a@b.com", "a..b@b.com", "a.@b.com", "a@.b.com", "a@-b.com", "a@b-.com"]
            )
        ),
    ]
)
def test_csv_rows_the_fast_path_accepts_the_serializer_accepts_alike(batch):
    assert_fast_path_only_accepts_what_the_serializer_accepts(batch, json_types=False)


@EXAMPLES
@given(st.lists(rows(json_types=True), min_size=1, max_size=25))
@example([{"external_id": "j", "score": Decimal("1E+3")}, {"external_id": "k", "score": 10}])
def test_json_rows_the_fast_path_accepts_the_serializer_accepts_alike(batch):
    assert_fast_path_only_accepts_what_the_serializer_accepts(batch, json_types=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(json_types=False), min_size=1, max_size=25))
def test_csv_rows_in_another_time_zone(batch):
    # Naive date-times are read in the current time zone: no longer plain for SQL.
    with timezone.override("Asia/Jakarta"):
        assert_fast_path_only_accepts_what_the_serializer_accepts(batch, json_types=False)


def reference_verdict(path: Path) -> dict[str, tuple] | None:
    """What the API's rules say of a whole file: the customers to store, or None (refused).

    The file read as the exact reading reads it, each row judged by the serializer,
    and every external_id once.
    """
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
        try:
            records = list(csv.reader(file))
        except csv.Error:
            return None
    columns = csv_columns(records[0])
    batch = [csv_record(columns, values) for values in records[1:] if values]
    valid, errors = rows_validate(batch)
    ids = [data["external_id"] for _, data in valid]
    if errors or len(set(ids)) != len(ids):
        return None
    return {
        data["external_id"]: tuple(data.get(c) for c in fast_path.STORED_COLUMNS)
        for _, data in valid
    }


def csv_file(batch: list[dict[str, str]], tmp: Path) -> Path:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(CUSTOMER_COLUMNS)
    for row in batch:
        writer.writerow([row.get(column, "") for column in CUSTOMER_COLUMNS])
    path = tmp / f"{uuid.uuid4().hex}.csv"
    path.write_bytes(text.getvalue().encode("utf-8", errors="surrogateescape"))
    return path


repeated_ids = st.sampled_from(["c-1", "c-2", "c-3"])


@st.composite
def csv_batches(draw) -> list[dict[str, str]]:
    """Rows of a file, whose ids often repeat (known columns only: the header names five)."""
    batch = draw(st.lists(rows(json_types=False), min_size=1, max_size=20))
    for row in batch:
        row.pop("column_6", None)
        if draw(st.booleans()):
            row["external_id"] = draw(repeated_ids)
    return batch


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(csv_batches())
def test_a_file_is_imported_exactly_when_the_api_rules_allow_every_row(tmp_path, batch):
    path = csv_file(batch, tmp_path)
    expected = reference_verdict(path)
    try:
        result = customer_import(path=path)
    except ImportFailed:
        assert expected is None, f"refused a file the rules allow: {batch!r}"
        assert not Customer.objects.exists()
        return
    try:
        assert expected is not None, f"imported a file the rules refuse: {batch!r}"
        stored = {
            c.external_id: (c.external_id, c.score, c.preapproved_at, c.name, c.email)
            for c in Customer.objects.all()
        }
        assert stored == expected
        assert result.created == len(expected)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Customer._meta.db_table}")


@pytest.mark.parametrize("offset", ["-23:59", "+16:00"])
def test_an_offset_beyond_what_postgresql_reads_is_stored_as_its_instant(tmp_path, offset):
    # Python takes offsets up to 23:59, PostgreSQL up to 15:59: such rows are the
    # serializer's, and reach the database in UTC.
    path = tmp_path / "offsets.csv"
    path.write_text(f"external_id,score,preapproved_at\nc-1,1,2024-01-05T10:00:00{offset}\n")
    customer_import(path=path)
    written = datetime.fromisoformat(f"2024-01-05T10:00:00{offset}")
    assert Customer.objects.get().preapproved_at == written
