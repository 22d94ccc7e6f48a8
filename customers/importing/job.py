"""One import, start to end: load the file into a staging table, judge it, store it or say why not.

All in one transaction: a bad line stores nothing. The file is streamed (memory
stays flat) into the staging table with PostgreSQL ``COPY``; the rows SQL does
not accept as written (:mod:`customers.importing.fast_path`) are judged by the
serializer, ``_BATCH`` at a time; repeated and already stored ``external_id``\\s
are found in SQL; one ``INSERT … SELECT`` moves the rows into ``customers_customer``.

CSV goes to ``COPY`` byte for byte. Should PostgreSQL refuse the text (a short
or long record, bad UTF-8, a NUL) or a line number be uncertain, the file is
read again record by record with Python's ``csv`` module, which then decides,
so the outcome never depends on which way the file went in.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customers.bulk import CUSTOMER_COLUMNS, rows_validate
from customers.importing import fast_path
from customers.importing.fast_path import StagingRow
from customers.importing.readers import (
    CsvBytes,
    Record,
    csv_header,
    csv_records,
    json_records,
)
from customers.importing.results import (
    ImportFailed,
    ImportResult,
    LineError,
    NoProgress,
    Progress,
)
from customers.models import Customer
from customers.services import DUPLICATE_EXTERNAL_ID
from mo_loans.db import write_transaction

FORMATS = ("csv", "json")
MAX_ERRORS = 50
_BATCH = 2000  # rows judged by the serializer at once


def _judged(batch: list[Record]) -> Iterator[StagingRow]:
    """Staging rows for rows judged by the serializer: checked values or errors."""
    valid, errors = rows_validate([row for _, row in batch])
    for index, data in valid:
        preapproved_at = data.get("preapproved_at")
        yield (
            batch[index][0],
            data["external_id"],
            str(data["score"]),
            # In UTC: PostgreSQL refuses offsets beyond 15:59, which Python takes.
            preapproved_at.astimezone(UTC).isoformat() if preapproved_at else None,
            data["name"],
            data["email"],
            True,
            None,
            None,
        )
    for error in errors:
        line = batch[error.index][0]
        yield (line, None, None, None, None, None, False, error.field, error.message)


def _staging_rows(records: Iterable[Record], *, json_types: bool) -> Iterator[StagingRow]:
    """Plain rows as they are; the others judged by the serializer, a batch at a time."""
    pending: list[Record] = []
    for line, row in records:
        values = fast_path.plain_values(row, json_types=json_types)
        if values is None:
            pending.append((line, row))
            if len(pending) >= _BATCH:
                yield from _judged(pending)
                pending = []
        else:
            yield (line, *values, False, None, None)
    if pending:
        yield from _judged(pending)


class _Reread(Exception):
    """The fast load cannot be trusted for this file."""


class _Import:
    def __init__(
        self, *, path: Path, fmt: str, skip_existing: bool, max_errors: int, progress: Progress
    ) -> None:
        self.path = path
        self.fmt = fmt
        self.skip_existing = skip_existing
        self.max_errors = max_errors
        self.progress = progress
        self.unit = "line" if fmt == "csv" else "record"
        # In the customers_import schema, where the app's role may create tables
        # (migration customers 0051); never next to the ledger in public.
        self.stage_name = f"stage_{uuid.uuid4().hex}"
        self.stage = f"{fast_path.SCHEMA}.{self.stage_name}"
        self.customers = connection.ops.quote_name(Customer._meta.db_table)
        self.size = path.stat().st_size
        self.errors = 0  # error rows staged so far
        self.quoted = False  # CSV loaded byte for byte, with quotes: lines may be inexact

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall() if cursor.description else []

    def copy_rows(self, rows: Iterable[StagingRow]) -> int:
        statement = f"COPY {self.stage} ({', '.join(fast_path.STAGING_COLUMNS)}) FROM STDIN"
        count = 0
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count

    def create_stage(self) -> None:
        # Made inside the import's transaction, it never outlives it, whatever happens.
        self.sql(fast_path.stage_create_sql(self.stage))

    # Loading -------------------------------------------------------------------------

    def load_csv_fast(self, columns: list[str], start: int) -> bool:
        """COPY the records byte for byte; False when the exact reading must decide."""
        names = ", ".join(columns)
        statement = f"COPY {self.stage} ({names}) FROM STDIN (FORMAT csv, FORCE_NULL ({names}))"
        raw = CsvBytes(self.path, start)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    for chunk in raw.chunks(self.progress):
                        copy.write(chunk)
                if raw.end_marker:
                    raise _Reread
        except (psycopg.Error, _Reread):
            return False
        self.quoted = raw.quoted
        return True

    def load(self) -> None:
        self.progress.phase("loading", total=self.size)
        if self.fmt == "json":
            with self.path.open("rb") as file:
                records = json_records(file, self.progress)
                self.errors = self.copy_staging(records, json_types=True)
            return
        columns, start = csv_header(self.path)
        if not self.load_csv_fast(columns, start):
            self.load_csv_exact(columns)

    def load_csv_exact(self, columns: list[str]) -> None:
        self.sql(f"TRUNCATE {self.stage}")
        self.errors = 0
        self.progress.phase("reading again record by record", total=self.size)
        self.errors = self.copy_staging(
            csv_records(self.path, columns, self.progress), json_types=False
        )
        self.quoted = False  # lines are exact now

    def copy_staging(self, records: Iterable[Record], *, json_types: bool) -> int:
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
        condition, params = fast_path.fast_path_sql(naive_datetimes=naive)
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

    def copy_staging_judged(self, records: list[Record]) -> int:
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
        skip = (
            f"""AND NOT EXISTS (SELECT 1 FROM {self.customers} c
                                 WHERE c.external_id = s.external_id COLLATE "default")"""
            if self.skip_existing
            else ""
        )
        on_conflict = "ON CONFLICT (external_id) DO NOTHING" if self.skip_existing else ""
        now = timezone.now()
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {self.customers}
                        ({", ".join(fast_path.STORED_COLUMNS)}, status, created_at, updated_at)
                    SELECT {fast_path.STORED_VALUES}, %(active)s, %(now)s, %(now)s
                      FROM {self.stage} s
                     WHERE s.err_message IS NULL {skip}
                    {on_conflict}""",
                {
                    **fast_path.stored_values_params(),
                    "active": Customer.Status.ACTIVE.value,
                    "now": now,
                },
            )
            return cursor.rowcount

    def run(self) -> tuple[int, int]:
        with write_transaction():
            self.create_stage()
            self.load()
            rows = self.judge()
            if self.errors and self.quoted:
                # Records may span lines: read again to name the exact lines.
                self.load_csv_exact(csv_header(self.path)[0])
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
        progress=progress or NoProgress(),
    )
    rows, created = job.run()
    return ImportResult(
        rows=rows, created=created, skipped=rows - created, seconds=clock() - started
    )
