"""Customer rows as CSV: one reading of the format for the bulk endpoint and the import.

* UTF-8 (a byte-order mark is ignored), RFC 4180 quoting.
* A header line names the columns: ``external_id`` and ``score`` are required,
  ``preapproved_at``, ``name`` and ``email`` optional, in any order.
* An empty cell means "not given"; blank lines are skipped.
* Cells beyond the header's columns are unknown fields (``column_<n>``), which
  the customer rules refuse.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser

from customers import rules
from customers.bulk import CUSTOMER_COLUMNS, REQUIRED_COLUMNS
from mo_loans import ids
from mo_loans.api.schema_docs import CSV_BODY
from mo_loans.api.serializers import plain_decimal_pattern

_SCORE = plain_decimal_pattern(
    rules.SCORE_MAX_DIGITS - rules.SCORE_DECIMAL_PLACES, rules.SCORE_DECIMAL_PLACES
)
# The body in its simplest form, for the schema; the description names every accepted column.
CSV_BODY_SCHEMA = {
    "type": "string",
    "description": CSV_BODY,
    "pattern": rf"^{','.join(REQUIRED_COLUMNS)}(?:\r?\n{ids.PATTERN},{_SCORE})*\r?\n?$",
}


def csv_header_errors(header: Sequence[str]) -> list[str]:
    """What is wrong with a header line (empty when nothing is)."""
    columns = [name.strip() for name in header]
    errors = [f"Unknown column '{name}'." for name in columns if name not in CUSTOMER_COLUMNS]
    errors += [
        f"Column '{name}' appears more than once."
        for name in sorted({n for n in columns if columns.count(n) > 1})
    ]
    errors += [f"Missing column '{name}'." for name in REQUIRED_COLUMNS if name not in columns]
    return errors


def csv_columns(header: Sequence[str]) -> list[str]:
    return [name.strip() for name in header]


def csv_record(columns: Sequence[str], values: Sequence[str]) -> dict[str, str]:
    """One CSV record as the customer row it stands for."""
    row = {column: value for column, value in zip(columns, values, strict=False) if value != ""}
    for number, value in enumerate(values[len(columns) :], start=len(columns) + 1):
        if value != "":
            row[f"column_{number}"] = value
    return row


class CustomerCSVParser(BaseParser):
    """``text/csv`` bodies of ``POST /api/customers/bulk``: a list of row dicts."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> list[dict[str, str]]:
        raw = stream.read() if stream is not None else b""
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ParseError(f"CSV parse error - the body is not UTF-8: {exc}") from exc
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(reader, None)
            if header is None:
                raise ParseError("CSV parse error - the body is empty; expected a header line.")
            errors = csv_header_errors(header)
            if errors:
                raise ValidationError({"header": errors})
            columns = csv_columns(header)
            return [csv_record(columns, values) for values in reader if values]
        except csv.Error as exc:
            raise ParseError(f"CSV parse error on line {reader.line_num} - {exc}") from exc
