"""Who opens a write transaction, and why a service's block is not always durable.

A write service (``payment_make``, ``loan_create``, ``loan_activate``, …) runs in
:func:`write_transaction`. On its own — the admin, a management command, a POST
without an ``Idempotency-Key`` — that *is* the transaction: durable, committed
when the block ends, and refusing to run inside anybody else's transaction, as
``transaction.atomic(durable=True)`` would.

There is one outer transaction a service may run inside: the
:func:`request_transaction` that the idempotency layer opens around a POST
sent with an ``Idempotency-Key`` (``mo_loans.api.idempotency``). The key's
stored answer is written in that transaction, so "the write happened" and
"the key holds its answer" commit together or not at all. There the service's
block is a savepoint; it still checks the ledger's deferred constraint
triggers before it ends, so a broken invariant is refused by the service that
broke it, exactly as at its own commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction

_in_request_transaction: ContextVar[bool] = ContextVar(
    "mo_loans_in_request_transaction", default=False
)


@contextmanager
def request_transaction() -> Iterator[None]:
    """The one transaction around a whole API request (durable: nothing may wrap it)."""
    with transaction.atomic(durable=True):
        token = _in_request_transaction.set(True)
        try:
            yield
        finally:
            _in_request_transaction.reset(token)


def in_request_transaction() -> bool:
    return _in_request_transaction.get()


@contextmanager
def write_transaction() -> Iterator[None]:
    """A write service's transaction: durable, or a savepoint of the request's transaction."""
    nested = in_request_transaction()
    with transaction.atomic(durable=not nested):
        yield
        if nested:
            check_deferred_constraints()


def check_deferred_constraints() -> None:
    """Run the pending deferred constraint checks now, then defer again.

    Every deferrable constraint of this schema is ``INITIALLY DEFERRED`` (the
    payment ledger's triggers), so ``SET CONSTRAINTS ALL DEFERRED`` puts the
    transaction back as it began. A violation raises ``IntegrityError`` here. Both
    statements go in one round trip (no parameters: one simple query); the
    server stops at the first one when it fails.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")


@contextmanager
def without_statement_timeout() -> Iterator[None]:
    """Lift ``DATABASE_STATEMENT_TIMEOUT_MS`` for this connection while the block runs.

    For operator commands whose statements are long on purpose (``import_customers``
    loads millions of rows in a few statements); the lock timeout still applies.
    """
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")
    try:
        yield
    finally:
        if connection.connection is not None and not connection.needs_rollback:
            with connection.cursor() as cursor:
                # Back to the value the connection was opened with.
                cursor.execute("RESET statement_timeout")
