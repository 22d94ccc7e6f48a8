"""Writing the replay rule's answer into the ledger.

``billing.replay`` says what every payment's allocation is; this module reads
a customer's loans and payments into it and stores what changed: the detail
rows of each payment whose allocation moved are marked superseded and written
anew (never updated, never deleted), and each loan's cached ``paid_amount``,
``outstanding`` and status follow. Callers hold the customer lock and their
loans' row locks (see :mod:`customers.locking`) inside one transaction.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction

from billing.money import ZERO
from billing.replay import LedgerLoan, LedgerPayment, Replay, replay, split
from customers.models import Customer
from loans.models import Loan
from mo_loans import observability
from mo_loans.core.exceptions import BusinessRuleError
from payments.models import Payment, PaymentDetail

# Loans that payments may have paid: taken, and owing now or paid off since.
TAKEN_STATUSES = (Loan.Status.ACTIVE, Loan.Status.PAID)

Allocation = dict[Hashable, dict[Hashable, Decimal]]


def ledger_loan(loan: Loan) -> LedgerLoan:
    return LedgerLoan(key=loan.id, terms=loan.terms, start=loan.start_date, taken_at=loan.taken_at)


def ledger_loans(loans: Iterable[Loan]) -> list[LedgerLoan]:
    return [ledger_loan(loan) for loan in loans if loan.status in TAKEN_STATUSES]


def ledger_payment(payment: Payment) -> LedgerPayment:
    return LedgerPayment(
        key=payment.id,
        paid_at=payment.paid_at,
        recorded_at=payment.recorded_at,
        seq=payment.id,
        amount=payment.total_amount,
        target=payment.loan_id,
    )


def ledger_position(payment: Payment) -> tuple[datetime, datetime, int]:
    """Where ``payment`` falls in value order."""
    return ledger_payment(payment).value_order


def locked_loans(customer: Customer) -> list[Loan]:
    """Every loan of the customer, row-locked in id order."""
    return list(Loan.objects.select_for_update().filter(customer=customer).order_by("id"))


@dataclass(frozen=True)
class Book:
    """A customer's completed payments, as the replay orders and the ledger stores them."""

    payments: list[LedgerPayment]
    paid_at: dict[int, datetime]
    external_ids: dict[int, str]


def load_book(customer: Customer, *, since: datetime | None = None) -> Book:
    """The customer's completed payments (those with ``paid_at`` ≥ ``since``), as plain rows."""
    rows = Payment.objects.filter(customer=customer, status=Payment.Status.COMPLETED)
    if since is not None:
        rows = rows.filter(paid_at__gte=since)
    rows = rows.values_list(
        "id", "paid_at", "recorded_at", "total_amount", "loan_id", "external_id"
    )
    payments, paid_at, external_ids = [], {}, {}
    for pk, paid, recorded, amount, loan_id, external_id in rows:
        payments.append(LedgerPayment(pk, paid, recorded, pk, amount, loan_id))
        paid_at[pk] = paid
        external_ids[pk] = external_id
    return Book(payments, paid_at, external_ids)


def current_allocation(payment_ids: Iterable[int]) -> Allocation:
    """The detail rows in force for these payments: ``{payment: {loan: amount}}``."""
    allocation: Allocation = {}
    rows = PaymentDetail.current.filter(payment_id__in=list(payment_ids))
    for payment_id, loan_id, amount in rows.values_list("payment_id", "loan_id", "amount"):
        allocation.setdefault(payment_id, {})[loan_id] = amount
    return allocation


def replay_from(
    *,
    loans: list[Loan],
    book: Book,
    at: tuple[datetime, datetime, int],
    add: LedgerPayment | None = None,
    drop: int | None = None,
) -> tuple[Replay, Allocation]:
    """Replay the customer's payments from value-order position ``at`` on.

    Payments before ``at`` keep their allocation (the replay's prefix cannot
    change), so only those at or after it are read and re-applied, starting
    from what the loans had been paid before it: their stored totals less the
    rows in force of the later payments. ``add`` joins the replay (a new
    payment), ``drop`` leaves it (a reversal). Returns the replay of that
    suffix and the allocation it replaces.
    """
    _, after = split(book.payments, at)
    current = current_allocation(payment.key for payment in after)
    paid = {loan.id: loan.paid_amount for loan in loans}
    for shares in current.values():
        for loan_id, amount in shares.items():
            paid[loan_id] -= amount
    suffix = [payment for payment in after if payment.key != drop]
    if add is not None:
        suffix.append(add)
    return replay(ledger_loans(loans), suffix, paid=paid), current


def replay_conflict(result: Replay, book: Book) -> BusinessRuleError:
    blocked = book.external_ids[result.unapplied[0].key]
    return BusinessRuleError(
        f"This change would leave payment '{blocked}' unable to be applied in full; "
        "nothing was changed.",
        code="replay_conflict",
        extra={"payment_external_id": blocked},
    )


@dataclass(frozen=True)
class Written:
    """What storing an allocation changed."""

    payments_changed: int
    rows_superseded: int
    rows: list[PaymentDetail]


def store_allocation(
    *,
    loans: list[Loan],
    paid_at: Mapping[int, datetime],
    allocation: Allocation,
    current: Allocation,
    paid: Mapping[Hashable, Decimal],
    now: datetime,
) -> Written:
    """Make the ledger say ``allocation`` where it says ``current``, and loans say ``paid``.

    Only payments whose shares differ are touched: their rows in force are
    marked superseded at ``now`` in one UPDATE and their new rows inserted in
    one INSERT; changed loans are updated in one statement.
    """
    changed = [
        payment_id
        for payment_id in sorted(set(allocation) | set(current))
        if allocation.get(payment_id, {}) != current.get(payment_id, {})
    ]
    superseded = 0
    stale = [payment_id for payment_id in changed if payment_id in current]
    if stale:
        superseded = PaymentDetail.current.filter(payment_id__in=stale).update(superseded_at=now)
    by_id = {loan.id: loan for loan in loans}
    rows = [
        PaymentDetail(
            payment_id=payment_id,
            loan=by_id[loan_id],
            amount=amount,
            paid_at=paid_at[payment_id],
            recorded_at=now,
            created_at=now,
            updated_at=now,
        )
        for payment_id in changed
        for loan_id, amount in allocation.get(payment_id, {}).items()
    ]
    moved = []
    for loan in loans:
        if loan.status not in TAKEN_STATUSES:
            continue
        new_paid = paid.get(loan.id, ZERO)
        if new_paid == loan.paid_amount:
            continue
        loan.paid_amount = new_paid
        loan.outstanding = loan.total_amount - new_paid
        loan.status = Loan.Status.PAID if loan.outstanding == ZERO else Loan.Status.ACTIVE
        loan.updated_at = now
        moved.append(loan)
    write_rows_and_loans(rows, moved)
    return Written(len(changed), superseded, rows)


_DETAIL_COLUMNS = ("payment_id", "loan_id", "amount", "paid_at", "recorded_at", "created_at",
                   "updated_at")  # fmt: skip
_DETAIL_VALUES = "(%s::bigint, %s::bigint, %s::numeric, %s::timestamptz, %s::timestamptz, " \
    "%s::timestamptz, %s::timestamptz)"  # fmt: skip
_LOAN_VALUES = "(%s::bigint, %s::numeric, %s::numeric, %s::smallint, %s::timestamptz)"


def write_rows_and_loans(rows: list[PaymentDetail], moved: list[Loan]) -> None:
    """Insert the new detail ``rows`` and store the ``moved`` loans' totals: one statement.

    The loans' UPDATE is a data-modifying ``WITH`` of the rows' INSERT; the
    ledger's deferred checks see both, as they saw the two statements before.
    Each row gets its id (``RETURNING``, in the order given).
    """
    update = ""
    params: list = []
    if moved:
        update = (
            f"WITH moved AS (UPDATE {Loan._meta.db_table} AS l SET paid_amount = v.paid_amount, "
            "outstanding = v.outstanding, status = v.status, updated_at = v.updated_at "
            f"FROM (VALUES {', '.join([_LOAN_VALUES] * len(moved))}) "
            "AS v(id, paid_amount, outstanding, status, updated_at) WHERE l.id = v.id "
            "RETURNING l.id) "
        )
        for loan in moved:
            params += [loan.id, loan.paid_amount, loan.outstanding, loan.status, loan.updated_at]
    if rows:
        sql = (
            f"{update}INSERT INTO {PaymentDetail._meta.db_table} ({', '.join(_DETAIL_COLUMNS)}) "
            f"VALUES {', '.join([_DETAIL_VALUES] * len(rows))} RETURNING id"
        )
        for row in rows:
            params += [getattr(row, column) for column in _DETAIL_COLUMNS]
    elif moved:
        sql = f"{update}SELECT count(*) FROM moved"
    else:
        return
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchall()
    for row, (pk,) in zip(rows, ids if rows else [], strict=True):
        row.id = pk
        row._state.adding = False
        row._state.db = connection.alias


def replay_and_store(
    *,
    customer: Customer,
    loans: list[Loan],
    book: Book,
    at: tuple[datetime, datetime, int],
    now: datetime,
    cause: str,
    drop: int | None = None,
) -> Written:
    """Replay from ``at`` on (leaving out ``drop``), refuse a conflict, store what moved.

    The write that changes the past (a reversal, a back-dated activation) has
    made its own change already; this re-derives the allocation after it, in
    the same transaction. A completed payment left unable to apply in full is
    422 ``replay_conflict`` and the transaction is rolled back.
    """
    result, current = replay_from(loans=loans, book=book, at=at, drop=drop)
    if not result.complete:
        raise replay_conflict(result, book)
    written = store_allocation(
        loans=loans,
        paid_at=book.paid_at,
        allocation=result.allocations,
        current=current,
        paid=result.paid,
        now=now,
    )
    report_replay(customer, cause, written)
    return written


def report_replay(customer: Customer, cause: str, written: Written) -> None:
    """Count the replay and log it, once the transaction commits."""
    transaction.on_commit(
        lambda: observability.ledger_replayed(
            customer_external_id=customer.external_id,
            cause=cause,
            payments_changed=written.payments_changed,
            rows_superseded=written.rows_superseded,
        )
    )
