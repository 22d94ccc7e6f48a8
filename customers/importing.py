"""Import customers from a CSV or JSON file of any size, all or nothing.

The file is streamed (memory stays flat) into a staging table with PostgreSQL
``COPY``, judged there, and moved into ``customers_customer`` with one
``INSERT … SELECT``, all in one transaction: a bad line stores nothing.

The rules are those of :class:`~customers.serializers.CustomerInputSerializer`.
To judge millions of rows at ``COPY`` speed, SQL accepts the values written in
their plain form (``fast_path_sql``: ``1500.50``, ``2024-01-05T10:00:00Z``, …),
with every limit taken from :mod:`customers.rules`; the fast path only ever
*accepts* a value the serializer would accept too, and never refuses one.
Every other row goes through the serializer itself (``rows_validate``), whose
verdict — and message — is final. Repeated and already stored ``external_id``\\s
are found in SQL.

CSV goes to ``COPY`` byte for byte. Should PostgreSQL refuse the text (a short
or long record, bad UTF-8, a NUL) or a line number be uncertain, the file is
read again record by record with Python's ``csv`` module, which then decides,
so the outcome never depends on which way the file went in. JSON (an array of
objects) is read incrementally with ijson.
"""

from __future__ import annotations

import csv
import functools
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import ijson
import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers import rules
from customers.bulk import CUSTOMER_COLUMNS, rows_validate
from customers.models import Customer
from customers.parsers import csv_columns, csv_header_errors, csv_record
from customers.services import DUPLICATE_EXTERNAL_ID
from mo_loans import ids
from mo_loans.api.serializers import years_regex
from mo_loans.limits import DATETIME_MAX_YEAR, DATETIME_MIN_YEAR

FORMATS = ("csv", "json")
STAGING_SCHEMA = "customers_import"
MAX_ERRORS = 50
_CHUNK = 1 << 20  # bytes per COPY write
_BATCH = 2000  # rows judged by the serializer at once
_PROGRESS_EVERY = 10_000  # rows between two progress updates of a record-by-record read

# staging row: line, external_id, score, preapproved_at, name, email, checked, err_field, err_msg
StagingRow = tuple[int, *tuple[Any, ...]]


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    skipped: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class ImportFailed(Exception):
    """Nothing was stored. ``errors`` are the first ones, ``total`` counts them all."""

    def __init__(self, errors: list[LineError], *, total: int, unit: str = "line") -> None:
        self.errors = errors
        self.total = total
        self.unit = unit
        super().__init__(f"{total} error{'s' if total != 1 else ''}; nothing was imported.")

    def lines(self) -> list[str]:
        """The errors, one readable line each, and how many more there are."""
        out = [
            f"{self.unit} {e.line}" + (f", {e.field}" if e.field else "") + f": {e.message}"
            for e in self.errors
        ]
        if self.total > len(self.errors):
            out.append(f"… and {self.total - len(self.errors)} more.")
        return out


class Progress(Protocol):
    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, amount: int) -> None: ...


class _NoProgress:
    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


# --- the rules as SQL -----------------------------------------------------------------


@functools.cache
def _python_whitespace() -> str:
    """The characters ``str.strip()`` removes, which DRF trims from names and emails."""
    return "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def fast_path_sql(*, naive_datetimes: bool) -> tuple[str, dict[str, Any]]:
    """A SQL condition true for rows the serializer accepts as written (see module doc).

    Columns are ``COLLATE "C"``, so the regular expressions work byte-wise. They
    avoid counted repeats (``{1,12}``), which PostgreSQL runs several times slower
    than spelled-out ones; lengths are checked apart.
    """
    digit = "[0-9]"
    places = r"\." + digit + f"{digit}?" * (rules.SCORE_DECIMAL_PLACES - 1)
    offset = f"(?:Z|[+-](?:[01]{digit}|2[0-3]):[0-5]{digit})" + ("?" if naive_datetimes else "")
    params = {
        "ext_max": rules.EXTERNAL_ID_MAX_LENGTH,
        "ext_re": f"^{ids.CHARACTER_CLASS}+$",
        "reserved": sorted(rules.RESERVED_EXTERNAL_IDS),
        "score_re": f"^{digit}+(?:{places})?$",
        "score_int_max": rules.SCORE_MAX_DIGITS - rules.SCORE_DECIMAL_PLACES,
        # Written in the API's years (BoundedDateTimeField); at most 6 decimals of a
        # second, which Python and PostgreSQL both keep exactly.
        "date_re": (
            f"^{years_regex(DATETIME_MIN_YEAR, DATETIME_MAX_YEAR)}"
            f"-{digit * 2}-{digit * 2}[T ](?:[01]{digit}|2[0-3]):[0-5]{digit}"
            f"(?::[0-5]{digit}(?:\\.{digit}{f'{digit}?' * 5})?)?{offset}$"
        ),
        "name_max": rules.NAME_MAX_LENGTH,
        "email_max": rules.EMAIL_MAX_LENGTH,
        # A dot-atom of plain characters @ ASCII labels and a letters-only top-level
        # domain: a subset of Django's EmailValidator. The LIKE patterns refuse empty
        # atoms and labels that start or end with a hyphen; a domain of at most 63
        # characters keeps every label within its limit.
        "email_re": r"^[-A-Za-z0-9_+.]+@[A-Za-z0-9.-]+\.[A-Za-z][A-Za-z]+$",
        "email_bad": [".%", "%..%", "%.@%", "%@.%", "%@-%", "%-.%", "%.-%"],
    }
    condition = """coalesce(
        external_id IS NOT NULL
        AND char_length(external_id) BETWEEN 1 AND %(ext_max)s
        AND external_id ~ %(ext_re)s
        AND external_id <> ALL(%(reserved)s)
        AND score ~ %(score_re)s
        AND octet_length(split_part(score, '.', 1)) <= %(score_int_max)s
        AND (preapproved_at IS NULL OR CASE
            -- CASE fixes the order: no cast is tried on text the pattern refused.
            WHEN preapproved_at !~ %(date_re)s THEN false
            WHEN substr(preapproved_at, 6, 2)::int NOT BETWEEN 1 AND 12 THEN false
            ELSE substr(preapproved_at, 9, 2)::int BETWEEN 1 AND extract(day FROM
                make_date(substr(preapproved_at, 1, 4)::int, substr(preapproved_at, 6, 2)::int, 1)
                + interval '1 month' - interval '1 day')
            END)
        AND (name IS NULL OR char_length(name) <= %(name_max)s)
        AND (email IS NULL OR email = '' OR (
            char_length(email) <= %(email_max)s AND email ~ %(email_re)s
            AND email NOT LIKE ALL(%(email_bad)s)
            AND char_length(split_part(email, '@', 2)) <= 63)),
        false)"""
    return condition, params


# --- reading the file -------------------------------------------------------------------


_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _storable(value: str) -> bool:
    """PostgreSQL text holds neither NUL nor lone surrogates (from bad UTF-8)."""
    if "\x00" in value:
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain_values(row: Any, *, json_types: bool) -> list[Any] | None:
    """The row's column values as text for staging, or None if only Python can judge it."""
    if type(row) is not dict or not row.keys() <= set(CUSTOMER_COLUMNS):
        return None
    values: list[Any] = []
    for column in CUSTOMER_COLUMNS:
        value = row.get(column)
        if value is None:
            if column in row and column != "preapproved_at":
                return None
        elif json_types and column == "score" and type(value) in (int, Decimal):
            value = str(value)
            if not _PLAIN_NUMBER.fullmatch(value):
                return None  # 1E+3, -5: judged as the JSON number it is
        elif type(value) is not str or not _storable(value):
            return None
        values.append(value)
    return values


def _judged(batch: list[tuple[int, Any]]) -> Iterator[StagingRow]:
    """Staging rows for rows judged by the serializer: checked values or errors."""
    valid, errors = rows_validate([row for _, row in batch])
    for index, data in valid:
        preapproved_at = data.get("preapproved_at")
        yield (
            batch[index][0],
            data["external_id"],
            str(data["score"]),
            preapproved_at.isoformat() if preapproved_at else None,
            data["name"],
            data["email"],
            True,
            None,
            None,
        )
    for error in errors:
        line = batch[error.index][0]
        yield (line, None, None, None, None, None, False, error.field, error.message)


def _staging_rows(records: Iterable[tuple[int, Any]], *, json_types: bool) -> Iterator[StagingRow]:
    """Plain rows as they are; the others judged by the serializer, a batch at a time."""
    pending: list[tuple[int, Any]] = []
    for line, row in records:
        values = _plain_values(row, json_types=json_types)
        if values is None:
            pending.append((line, row))
            if len(pending) >= _BATCH:
                yield from _judged(pending)
                pending = []
        else:
            yield (line, *values, False, None, None)
    if pending:
        yield from _judged(pending)


def _csv_header(path: Path) -> tuple[list[str], int]:
    """The header's columns and the byte offset where the records start."""
    with path.open("rb") as file:
        first = file.readline()
        start = file.tell()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed([LineError(1, "", "The header is not UTF-8.")], total=1) from None
    header = next(csv.reader([text]), [])
    errors = csv_header_errors(header)
    if errors:
        raise ImportFailed([LineError(1, "", e) for e in errors], total=len(errors))
    return csv_columns(header), start


def _csv_records(path: Path, columns: list[str], progress: Progress) -> Iterator[tuple[int, Any]]:
    """Each CSV record with the line it starts on: the slow, exact reading."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
        reader = csv.reader(file)
        next(reader, None)
        last_line, done = reader.line_num, file.buffer.tell()
        try:
            for count, values in enumerate(reader, start=1):
                line, last_line = last_line + 1, reader.line_num
                if values:
                    yield line, csv_record(columns, values)
                if count % _PROGRESS_EVERY == 0:
                    progress.advance(file.buffer.tell() - done)
                    done = file.buffer.tell()
        except csv.Error as exc:
            raise ImportFailed(
                [LineError(last_line + 1, "", f"Unreadable CSV: {exc}.")], total=1
            ) from exc
        progress.advance(file.buffer.tell() - done)


def _json_records(file: BinaryIO, progress: Progress) -> Iterator[tuple[int, Any]]:
    """Each element of the top-level JSON array, numbered from 1."""
    head = file.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    file.seek(0)
    if not head.startswith(b"["):
        raise ImportFailed(
            [LineError(1, "", "The file must hold a JSON array of customer objects.")],
            total=1,
            unit="record",
        )
    number, done = 0, 0
    try:
        for item in ijson.items(file, "item", use_float=False):
            number += 1
            yield number, item
            if number % _PROGRESS_EVERY == 0:
                progress.advance(file.tell() - done)
                done = file.tell()
    except ijson.JSONError as exc:
        raise ImportFailed(
            [LineError(number + 1, "", f"Malformed JSON: {exc}")], total=1, unit="record"
        ) from exc
    progress.advance(file.tell() - done)


# --- the import --------------------------------------------------------------------------


class _Import:
    def __init__(self, *, path: Path, fmt: str, skip_existing: bool, max_errors: int, progress):
        self.path = path
        self.fmt = fmt
        self.skip_existing = skip_existing
        self.max_errors = max_errors
        self.progress = progress
        self.unit = "line" if fmt == "csv" else "record"
        # In the customers_import schema, where the app's role may create tables
        # (migration customers 0051); never next to the ledger in public.
        self.stage_name = f"stage_{uuid.uuid4().hex}"
        self.stage = f"{STAGING_SCHEMA}.{self.stage_name}"
        self.customers = connection.ops.quote_name(Customer._meta.db_table)
        self.size = path.stat().st_size
        self.errors = 0  # error rows staged so far
        self.quoted = False  # CSV loaded byte for byte, with quotes: lines may be inexact

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def copy_rows(self, rows: Iterable[StagingRow]) -> int:
        statement = (
            f"COPY {self.stage} (line, external_id, score, preapproved_at, name, email,"
            " checked, err_field, err_message) FROM STDIN"
        )
        count = 0
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def create_stage(self) -> None:
        # UNLOGGED, not TEMP: parallel workers may scan it. Made inside the import's
        # transaction, it never outlives it, whatever happens.
        columns = ", ".join(f'{name} text COLLATE "C"' for name in CUSTOMER_COLUMNS)
        self.sql(
            f"CREATE UNLOGGED TABLE {self.stage} ("
            " line bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 2 CACHE 10000),"
            f" {columns}, checked boolean NOT NULL DEFAULT false,"
            " err_field text, err_message text)"
        )

    # Loading -------------------------------------------------------------------------

    def load_csv_fast(self, columns: list[str], start: int) -> bool:
        """COPY the records byte for byte; False when the exact reading must decide."""
        names = ", ".join(columns)
        statement = f"COPY {self.stage} ({names}) FROM STDIN (FORMAT csv, FORCE_NULL ({names}))"
        quoted = marker = False
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                with self.path.open("rb") as file, cursor.copy(statement) as copy:
                    file.seek(start)
                    self.progress.advance(start)
                    previous = b""
                    while chunk := file.read(_CHUNK):
                        quoted = quoted or b'"' in chunk
                        # A line holding only \. would end COPY's input early.
                        marker = marker or b"\\." in previous + chunk
                        copy.write(chunk)
                        self.progress.advance(len(chunk))
                        previous = chunk[-1:]
                if marker:
                    raise _Reread
        except (psycopg.Error, _Reread):
            return False
        self.quoted = quoted
        return True

    def load(self) -> None:
        self.progress.phase("loading", total=self.size)
        if self.fmt == "json":
            with self.path.open("rb") as file:
                records = _json_records(file, self.progress)
                self.errors = self.copy_staging(records, json_types=True)
            return
        columns, start = _csv_header(self.path)
        if not self.load_csv_fast(columns, start):
            self.load_csv_exact(columns)

    def load_csv_exact(self, columns: list[str]) -> None:
        self.sql(f"TRUNCATE {self.stage}")
        self.errors = 0
        self.progress.phase("reading again record by record", total=self.size)
        self.errors = self.copy_staging(
            _csv_records(self.path, columns, self.progress), json_types=False
        )
        self.quoted = False  # lines are exact now

    def copy_staging(self, records: Iterable[tuple[int, Any]], *, json_types: bool) -> int:
        errors = 0

        def counted(rows: Iterable[StagingRow]) -> Iterator[StagingRow]:
            nonlocal errors
            for row in rows:
                errors += row[-1] is not None
                yield row

        self.copy_rows(counted(_staging_rows(records, json_types=json_types)))
        return errors

    # Judging --------------------------------------------------------------------------

    def judge(self) -> int:
        """Judge the rows SQL cannot accept as written with the serializer; count the rows."""
        self.progress.phase("validating")
        naive = timezone.get_current_timezone_name() == "UTC"
        condition, params = fast_path_sql(naive_datetimes=naive)
        odd = f"err_message IS NULL AND NOT checked AND NOT {condition}"
        [(rows, odd_rows)] = self.sql(
            f"SELECT count(*), count(*) FILTER (WHERE {odd}) FROM {self.stage}", params
        )
        if not odd_rows:
            return rows
        held = f"{self.stage_name}_odd"
        self.sql(
            f"CREATE TEMP TABLE {held} ON COMMIT DROP AS SELECT line, "
            f"{', '.join(CUSTOMER_COLUMNS)} FROM {self.stage} WHERE {odd}",
            params,
        )
        self.sql(f"DELETE FROM {self.stage} WHERE {odd}", params)
        with connection.connection.cursor(name=held) as cursor:
            cursor.itersize = _BATCH
            cursor.execute(f"SELECT * FROM {held} ORDER BY line")
            while batch := cursor.fetchmany(_BATCH):
                records = [
                    (
                        line,
                        {
                            c: v
                            for c, v in zip(CUSTOMER_COLUMNS, values, strict=True)
                            if v is not None
                        },
                    )
                    for line, *values in batch
                ]
                self.errors += self.copy_staging_judged(records)
        self.sql(f"DROP TABLE {held}")
        return rows

    def copy_staging_judged(self, records: list[tuple[int, Any]]) -> int:
        rows = list(_judged(records))
        self.copy_rows(rows)
        return sum(row[-1] is not None for row in rows)

    # Reporting and storing ------------------------------------------------------------

    def failure(self) -> ImportFailed:
        """Every problem: the judged errors, repeated and (unless skipped) stored ids."""
        self.progress.phase("listing the errors")
        stored = (
            ""
            if self.skip_existing
            else f"""UNION ALL
            SELECT s.line, 'external_id', %(stored)s FROM {self.stage} s
              JOIN {self.customers} c ON c.external_id = s.external_id COLLATE "default"
             WHERE s.err_message IS NULL"""
        )
        found = self.sql(
            f"""WITH bad AS (
                SELECT line, err_field AS field, err_message AS message
                  FROM {self.stage} WHERE err_message IS NOT NULL
                UNION ALL
                SELECT line, 'external_id', %(repeated)s || first_line || '.'
                  FROM (SELECT line, min(line) OVER (PARTITION BY external_id) AS first_line
                          FROM {self.stage} WHERE err_message IS NULL) d
                 WHERE line <> first_line
                {stored})
            SELECT line, field, message, count(*) OVER () FROM bad
             ORDER BY line, field LIMIT %(limit)s""",
            {
                "repeated": f"Repeated external_id; first on {self.unit} ",
                "stored": DUPLICATE_EXTERNAL_ID,
                "limit": self.max_errors,
            },
        )
        errors = [LineError(line, field or "", message) for line, field, message, _ in found]
        total = found[0][3] if found else 0
        if not errors:  # a race with another writer, gone by the time we looked
            errors, total = [LineError(0, "", "The data changed during the import; retry.")], 1
        return ImportFailed(errors, total=total, unit=self.unit)

    def has_repeats(self) -> bool:
        return bool(
            self.sql(f"SELECT 1 FROM {self.stage} GROUP BY external_id HAVING count(*) > 1 LIMIT 1")
        )

    def insert(self) -> int:
        self.progress.phase("storing")
        now = timezone.now()
        skip = (
            f"""AND NOT EXISTS (SELECT 1 FROM {self.customers} c
                                 WHERE c.external_id = s.external_id COLLATE "default")"""
            if self.skip_existing
            else ""
        )
        on_conflict = "ON CONFLICT (external_id) DO NOTHING" if self.skip_existing else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {self.customers}
                        (external_id, score, status, preapproved_at, name, email,
                         created_at, updated_at)
                    SELECT s.external_id, s.score::numeric, %(active)s,
                           s.preapproved_at::timestamptz, coalesce(btrim(s.name, %(ws)s), ''),
                           coalesce(s.email, ''), %(now)s, %(now)s
                      FROM {self.stage} s
                     WHERE s.err_message IS NULL {skip}
                    {on_conflict}""",
                {
                    "active": Customer.Status.ACTIVE.value,
                    "ws": _python_whitespace(),
                    "now": now,
                },
            )
            return cursor.rowcount

    def run(self) -> tuple[int, int]:
        with transaction.atomic(durable=True):
            self.create_stage()
            self.load()
            rows = self.judge()
            if self.errors and self.quoted:
                # Records may span lines: read again to name the exact lines.
                self.load_csv_exact(_csv_header(self.path)[0])
                rows = self.judge()
            if self.errors or (self.skip_existing and self.has_repeats()):
                raise self.failure()
            try:
                with transaction.atomic():
                    created = self.insert()
            except IntegrityError:
                # A repeated or already stored external_id: the unique constraint said so.
                raise self.failure() from None
            self.sql(f"DROP TABLE {self.stage}")
        return rows, created


class _Reread(Exception):
    """The fast load cannot be trusted for this file."""


def import_format(path: Path, fmt: str | None) -> str:
    """The format named, or the one the file's suffix says."""
    chosen = (fmt or path.suffix.lstrip(".")).lower()
    if chosen not in FORMATS:
        raise ValueError(
            f"Cannot tell the format of '{path.name}': use a .csv or .json file, or --format."
        )
    return chosen


def customer_import(
    *,
    path: Path,
    fmt: str | None = None,
    skip_existing: bool = False,
    max_errors: int = MAX_ERRORS,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> ImportResult:
    """Import every customer in the file or none.

    ``skip_existing`` leaves customers already stored as they are instead of
    refusing the file. Raises :class:`ImportFailed` naming the first
    ``max_errors`` problems.
    """
    started = clock()
    job = _Import(
        path=path,
        fmt=import_format(path, fmt),
        skip_existing=skip_existing,
        max_errors=max_errors,
        progress=progress or _NoProgress(),
    )
    rows, created = job.run()
    return ImportResult(
        rows=rows, created=created, skipped=rows - created, seconds=clock() - started
    )
