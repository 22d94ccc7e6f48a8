"""Payment writes. ``payment_make`` and ``payment_reverse`` are the one place their rules live.

Both follow the replay rule of :mod:`billing.replay`: a customer's allocation
is what their completed payments give when applied in value order. A payment
that comes last in value order (the usual case) is one step of that fold on
the loans' stored totals; any other write that changes the past (a
back-dated payment, a reversal) replays the customer's payments in the same
transaction and stores what changed (:mod:`payments.ledger`).

Locks: the customer row first (:func:`customers.locking.customer_lock`), then
its loans in id order, the same order every money-moving service uses, so
writes for one customer queue instead of deadlocking, and none can spend an
instalment another already paid.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, Subquery
from django.utils import timezone

from billing.allocation import Overpayment
from billing.replay import LedgerPayment, apply_payment
from customers.locking import customer_lock
from customers.models import Customer
from loans.models import Loan
from mo_loans import observability
from mo_loans.core.constraints import violation_error
from mo_loans.core.exceptions import BusinessRuleError, InvalidInputError, NotFoundError
from mo_loans.db import write_transaction
from payments import ledger
from payments.models import Payment

REASON_MAX_LENGTH = 200
# The new payment's place among payments recorded at the same instant: last.
NEW_PAYMENT_SEQ = 2**62


def _invalid(field: str, code: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, code=code, fields={field: [message]})


def _target(loans: list[Loan], loan_external_id: str, paid_at: datetime) -> Loan:
    """The one loan a targeted payment names: the customer's, and taken by ``paid_at``."""
    loan = next((loan for loan in loans if loan.external_id == loan_external_id), None)
    if loan is None:
        if Loan.objects.filter(external_id=loan_external_id).exists():
            raise _invalid(
                "loan_external_id",
                "loan_of_another_customer",
                f"Loan '{loan_external_id}' belongs to another customer.",
            )
        raise _invalid(
            "loan_external_id", "unknown_loan", f"No loan with external_id '{loan_external_id}'."
        )
    if loan.status not in ledger.TAKEN_STATUSES:
        raise _invalid(
            "loan_external_id",
            "loan_not_active",
            f"Loan '{loan_external_id}' is {loan.get_status_display()}; only a loan that has "
            "been activated takes payments.",
        )
    if loan.taken_at > paid_at:
        raise _invalid(
            "loan_external_id",
            "loan_not_active",
            f"Loan '{loan_external_id}' was taken at {loan.taken_at.isoformat()}, after the "
            "payment's paid_at; it cannot take this payment.",
        )
    return loan


def _taken_and_latest(customer: Customer, external_id: str) -> tuple[bool, datetime | None]:
    """In one query: is ``external_id`` taken, and the latest ``paid_at`` of the customer's
    completed payments (a new payment at or after it is the replay's last step)."""
    latest = (
        Payment.objects.filter(customer=customer, status=Payment.Status.COMPLETED)
        .order_by("-paid_at")
        .values("paid_at")[:1]
    )
    row = (
        Customer.objects.filter(pk=customer.pk)
        .annotate(
            taken=Exists(Payment.objects.filter(external_id=external_id)),
            latest=Subquery(latest),
        )
        .values_list("taken", "latest")
        .get()
    )
    return row


def _locked_loans_taken_and_latest(
    customer: Customer, external_id: str
) -> tuple[list[Loan], bool, datetime | None]:
    """:func:`ledger.locked_loans` and :func:`_taken_and_latest` in one statement.

    Run once the customer lock is held, so its snapshot already sees every
    payment of the customer committed before; both answers ride on each loan
    row (uncorrelated subqueries: computed once). A customer without loans
    asks the second question on its own.
    """
    latest = (
        Payment.objects.filter(customer=customer, status=Payment.Status.COMPLETED)
        .order_by("-paid_at")
        .values("paid_at")[:1]
    )
    loans = list(
        Loan.objects.select_for_update(of=("self",))
        .filter(customer=customer)
        .annotate(
            payment_taken=Exists(Payment.objects.filter(external_id=external_id)),
            latest_paid_at=Subquery(latest),
        )
        .order_by("id")
    )
    if not loans:
        return loans, *_taken_and_latest(customer, external_id)
    return loans, loans[0].payment_taken, loans[0].latest_paid_at


def _rejection_reason(amount: Decimal, owed: Decimal) -> str:
    if not owed:
        return "There is nothing to pay."
    return f"The payment of {amount:.2f} exceeds the {owed:.2f} still owed."


def payment_make(
    *,
    external_id: str,
    customer_external_id: str,
    total_amount: Decimal,
    loan_external_id: str | None = None,
    paid_at: datetime | None = None,
) -> Payment:
    """Take a payment received at ``paid_at`` (default now) and apply it by the replay rule.

    It pays the customer's loans taken by ``paid_at`` (or the one loan named),
    oldest unpaid instalment first (ties: the loan taken first), each in full
    before the next. It is **completed** when, with it, every completed
    payment still applies in full; otherwise it is recorded as **rejected**
    with a reason and nothing else changes. An unknown customer or loan, a
    loan of another customer or not taken by ``paid_at``, a future
    ``paid_at`` or a taken ``external_id`` is refused (400), nothing recorded.
    """
    if paid_at is not None and paid_at > timezone.now():
        raise _invalid("paid_at", "paid_at_in_future", "paid_at must not be in the future.")
    with write_transaction():
        customer = customer_lock(external_id=customer_external_id)
        if customer is None:
            raise _invalid(
                "customer_external_id",
                "unknown_customer",
                f"No customer with external_id '{customer_external_id}'.",
            )
        # Read the clock once the lock is held: recording instants then follow the
        # order in which the customer's writes really happen.
        now = timezone.now()
        paid_at = paid_at or now
        loans, taken, latest = _locked_loans_taken_and_latest(customer, external_id)
        if taken:
            raise violation_error(Payment, "payment_external_id_unique")
        target = _target(loans, loan_external_id, paid_at) if loan_external_id else None
        payment = Payment(
            external_id=external_id,
            customer=customer,
            loan=target,
            total_amount=total_amount,
            paid_at=paid_at,
            recorded_at=now,
        )
        if latest is None or paid_at >= latest:
            shares = _take_last(payment, loans, now)
        else:
            shares = _take_backdated(payment, customer, loans, now)
        by_id = {loan.id: loan.external_id for loan in loans}
        transaction.on_commit(
            lambda: observability.payment_recorded(
                external_id=payment.external_id,
                customer_external_id=customer.external_id,
                status=payment.get_status_display(),
                amount=payment.total_amount,
                details=[(by_id[loan_id], amount) for loan_id, amount in shares.items()],
                rejection_reason=payment.rejection_reason,
            )
        )
    payment.customer = customer
    return payment


def _reject(payment: Payment, reason: str) -> dict:
    payment.status = Payment.Status.REJECTED
    payment.rejection_reason = reason
    payment.save(force_insert=True)
    payment.detail_rows = []
    return {}


def _new_entry(payment: Payment, now: datetime) -> LedgerPayment:
    """The payment being taken, as the replay orders it (after all recorded before ``now``)."""
    return LedgerPayment(
        key=None,
        paid_at=payment.paid_at,
        recorded_at=now,
        seq=NEW_PAYMENT_SEQ,
        amount=payment.total_amount,
        target=payment.loan_id,
    )


def _take_last(payment: Payment, loans: list[Loan], now: datetime) -> dict:
    """A payment last in value order: the replay's last step, on the stored totals."""
    ledger_loans = ledger.ledger_loans(loans)
    step = _new_entry(payment, now)
    paid = {loan.id: loan.paid_amount for loan in loans}
    try:
        shares = apply_payment(ledger_loans, paid, step)
    except Overpayment as exc:
        return _reject(payment, _rejection_reason(payment.total_amount, exc.owed))
    payment.status = Payment.Status.COMPLETED
    payment.save(force_insert=True)
    for loan_id, share in shares.items():
        paid[loan_id] += share
    written = ledger.store_allocation(
        loans=loans,
        paid_at={payment.id: payment.paid_at},
        allocation={payment.id: shares},
        current={},
        paid=paid,
        now=now,
    )
    payment.detail_rows = written.rows
    return shares


def _take_backdated(payment: Payment, customer: Customer, loans: list[Loan], now: datetime):
    """A payment that falls before others in value order: replay the customer from it on."""
    new = _new_entry(payment, now)
    book = ledger.load_book(customer, since=payment.paid_at)
    result, current = ledger.replay_from(loans=loans, book=book, at=new.value_order, add=new)
    if not result.complete:
        first = result.unapplied[0]
        if first.key is None:
            reason = _rejection_reason(payment.total_amount, first.owed)
        else:
            reason = (
                f"Taken at its paid_at, the payment would leave the later payment "
                f"'{book.external_ids[first.key]}' unable to be applied in full."
            )
        return _reject(payment, reason)
    payment.status = Payment.Status.COMPLETED
    payment.save(force_insert=True)
    allocation = dict(result.allocations)
    shares = allocation.pop(None)
    allocation[payment.id] = shares
    written = ledger.store_allocation(
        loans=loans,
        paid_at={**book.paid_at, payment.id: payment.paid_at},
        allocation=allocation,
        current=current,
        paid=result.paid,
        now=now,
    )
    payment.detail_rows = [row for row in written.rows if row.payment_id == payment.id]
    ledger.report_replay(customer, "backdated_payment", written)
    return shares


def payment_reverse(*, external_id: str, reason: str) -> Payment:
    """Reverse a completed payment: it then pays nothing, and the customer is replayed.

    ``reason`` (1–200 characters) is kept with ``reversed_at``. A rejected or
    already reversed payment is 422 ``invalid_state``; a reversal that would
    leave another payment unable to apply in full is 422 ``replay_conflict``
    (the replay rule makes that impossible; the check stays as a backstop).
    A paid loan that owes again becomes active.
    """
    if not isinstance(reason, str) or not reason or len(reason) > REASON_MAX_LENGTH:
        raise _invalid(
            "reason", "invalid", f"Give a reason of 1 to {REASON_MAX_LENGTH} characters."
        )
    with write_transaction():
        owner = Payment.objects.filter(external_id=external_id).values("customer_id").first()
        if owner is None:
            raise NotFoundError(f"No payment with external_id '{external_id}'.")
        customer = customer_lock(pk=owner["customer_id"])
        payment = Payment.objects.select_for_update().get(external_id=external_id)
        if payment.status != Payment.Status.COMPLETED:
            raise BusinessRuleError(
                f"A {payment.get_status_display()} payment cannot be reversed; only a "
                "completed one can.",
                code="invalid_state",
            )
        loans = ledger.locked_loans(customer)
        book = ledger.load_book(customer, since=payment.paid_at)
        now = timezone.now()
        payment.status = Payment.Status.REVERSED
        payment.reversed_at = now
        payment.reversal_reason = reason
        payment.save(update_fields=["status", "reversed_at", "reversal_reason", "updated_at"])
        ledger.replay_and_store(
            customer=customer,
            loans=loans,
            book=book,
            at=ledger.ledger_position(payment),
            now=now,
            cause="reversal",
            drop=payment.id,
        )
        payment.detail_rows = []
        transaction.on_commit(
            lambda: observability.payment_reversed(
                external_id=payment.external_id,
                customer_external_id=customer.external_id,
                amount=payment.total_amount,
                reason=reason,
            )
        )
    payment.customer = customer
    return payment
