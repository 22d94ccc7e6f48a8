"""Many customers at once: judging a batch of rows, and the bulk create service.

Every row is judged by :class:`~customers.serializers.CustomerInputSerializer`,
the one rule set for a new customer; the batch as a whole adds one rule: an
``external_id`` appears once in it and is not stored already. All or nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers.models import DUPLICATE_EXTERNAL_ID, Customer
from customers.serializers import CustomerInputSerializer
from mo_loans.api.serializers import flatten_messages
from mo_loans.core.exceptions import InvalidInputError, PayloadTooLargeError

# The most rows one POST /api/customers/bulk may carry; bigger loads belong to
# ``manage.py import_customers``. The body is also capped at MAX_REQUEST_BYTES.
BULK_MAX_ROWS = 10_000

# The columns a customer row may carry, in CSV order.
CUSTOMER_COLUMNS = ("external_id", "score", "preapproved_at", "name", "email")
REQUIRED_COLUMNS = ("external_id", "score")


@dataclass(frozen=True)
class RowError:
    """One problem with one row.

    ``index`` counts from 0; ``field`` is a column or ``non_field_errors``.
    """

    index: int
    field: str
    message: str


class InvalidRowsError(InvalidInputError):
    """400 naming every bad row: ``fields`` is keyed ``"<row>.<field>"``, rows counted from 1."""

    code = "invalid_rows"

    def __init__(self, errors: Sequence[RowError], *, total: int) -> None:
        fields: dict[str, list[str]] = {}
        for error in sorted(errors, key=lambda e: e.index):
            fields.setdefault(f"{error.index + 1}.{error.field}", []).append(error.message)
        rows = sorted({error.index + 1 for error in errors})
        super().__init__(
            f"{len(rows)} of {total} rows are invalid; nothing was stored.",
            fields=fields,
            extra={"invalid_rows": rows},
        )


def _row_errors(errors: Any) -> dict[int, dict[str, Any]]:
    items = errors.items() if isinstance(errors, dict) else enumerate(errors)
    return {int(index): detail for index, detail in items if detail}


def _field_items(detail: Any) -> list[tuple[str, Any]]:
    if isinstance(detail, dict):
        return list(detail.items())
    return [("non_field_errors", detail)]


def rows_validate(rows: Sequence[Any]) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """Judge each row with CustomerInputSerializer.

    Returns the valid rows as ``(index, validated_data)`` and the problems of
    the others; both in row order.
    """
    serializer = CustomerInputSerializer(data=list(rows), many=True)
    if serializer.is_valid():
        return list(enumerate(serializer.validated_data)), []
    bad = _row_errors(serializer.errors)
    errors = [
        RowError(index, str(field), message)
        for index, detail in sorted(bad.items())
        for field, value in _field_items(detail)
        for message in flatten_messages(value)
    ]
    good = [index for index in range(len(rows)) if index not in bad]
    if not good:
        return [], errors
    # A list serializer keeps no data once any row fails: judge the good rows again.
    again = CustomerInputSerializer(data=[rows[index] for index in good], many=True)
    again.is_valid(raise_exception=True)
    return list(zip(good, again.validated_data, strict=True)), errors


def _duplicate_errors(valid: Sequence[tuple[int, dict[str, Any]]]) -> list[RowError]:
    errors: list[RowError] = []
    first_seen: dict[str, int] = {}
    for index, data in valid:
        first = first_seen.setdefault(data["external_id"], index)
        if first != index:
            errors.append(
                RowError(index, "external_id", f"Duplicate of row {first + 1} in this request.")
            )
    stored = set(
        Customer.objects.filter(external_id__in=list(first_seen)).values_list(
            "external_id", flat=True
        )
    )
    errors.extend(
        RowError(index, "external_id", DUPLICATE_EXTERNAL_ID)
        for index, data in valid
        if data["external_id"] in stored
    )
    return errors


def _copy_customers(customers: Sequence[dict[str, Any]]) -> None:
    """Store validated customers with one COPY (the fastest way into PostgreSQL)."""
    quote = connection.ops.quote_name
    columns = ["external_id", "score", "status", "preapproved_at", "name", "email"]
    columns += ["created_at", "updated_at"]
    column_list = ", ".join(quote(Customer._meta.get_field(name).column) for name in columns)
    statement = f"COPY {quote(Customer._meta.db_table)} ({column_list}) FROM STDIN"
    now = timezone.now()
    active = Customer.Status.ACTIVE.value
    with (
        connection.cursor() as cursor,
        connection.wrap_database_errors,
        cursor.copy(statement) as copy,
    ):
        for row in customers:
            copy.write_row(
                (
                    row["external_id"],
                    row["score"],
                    active,
                    row.get("preapproved_at"),
                    row["name"],
                    row["email"],
                    now,
                    now,
                )
            )


def request_size_check(*, content_length: str | None) -> None:
    """413 before parsing when the declared body is over ``MAX_REQUEST_BYTES``."""
    try:
        size = int(content_length or 0)
    except ValueError:
        size = 0
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is not None and size > limit:
        raise PayloadTooLargeError(
            f"The request body is {size} bytes; at most {limit} bytes are accepted."
        )


def customer_bulk_create(*, rows: Any) -> int:
    """Create every customer in ``rows`` (a list of row dicts) or none; return how many.

    A bad row, a repeated ``external_id`` or one already stored makes the whole
    batch a 400 naming every bad row; more than ``BULK_MAX_ROWS`` rows is a 413.
    """
    if not isinstance(rows, list):
        raise InvalidInputError(
            "Expected a JSON list of customers or a text/csv body.",
            fields={"non_field_errors": ["Expected a list of customers."]},
        )
    if len(rows) > BULK_MAX_ROWS:
        raise PayloadTooLargeError(
            f"{len(rows)} rows sent; at most {BULK_MAX_ROWS} are accepted per request. "
            "Use the import_customers command for bigger loads.",
            code="too_many_rows",
        )
    valid, errors = rows_validate(rows)
    with transaction.atomic():
        errors += _duplicate_errors(valid)
        if errors:
            raise InvalidRowsError(errors, total=len(rows))
        # A concurrent create of the same external_id between the check and the
        # COPY trips the unique constraint, which the handler maps to the same 400.
        _copy_customers([data for _, data in valid])
    return len(valid)
