"""Loan writes: create, activate, reject. The one place loan rules are enforced."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from billing.money import ZERO
from billing.schedule import ScheduleError, make_terms, maximum_payment_date
from customers.locking import customer_lock
from customers.models import Customer
from loans import expressions
from loans.models import OPEN_STATUSES, Installment, Loan
from mo_loans import observability
from mo_loans.core.constraints import violation_error
from mo_loans.core.exceptions import BusinessRuleError, InvalidInputError, NotFoundError
from mo_loans.db import write_transaction
from payments import ledger

EARLIEST = datetime.min.replace(tzinfo=UTC)


def _unknown_customer(external_id: str) -> InvalidInputError:
    message = f"No customer with external_id '{external_id}'."
    return InvalidInputError(
        message, code="unknown_customer", fields={"customer_external_id": [message]}
    )


def customer_total_debt(*, customer: Customer) -> Decimal:
    """What the customer owes now over its pending and active loans."""
    total = Loan.objects.filter(customer=customer, status__in=OPEN_STATUSES).aggregate(
        total=Sum("outstanding")
    )["total"]
    return total or ZERO


def loan_create(
    *,
    external_id: str,
    customer_external_id: str,
    amount: Decimal,
    interest_rate: Decimal | None = None,
    term_weeks: int | None = None,
    contract_version: str = "",
) -> Loan:
    """Create a pending loan and its whole weekly schedule.

    Refused with 400 for an unknown customer, a taken ``external_id`` or terms
    that make no schedule; with 422 ``customer_inactive`` or
    ``credit_line_exceeded`` (which names the available amount).
    """
    interest_rate = (
        settings.BILLING_DEFAULT_INTEREST_RATE if interest_rate is None else interest_rate
    )
    term_weeks = settings.BILLING_DEFAULT_TERM_WEEKS if term_weeks is None else term_weeks
    try:
        terms = make_terms(amount=amount, interest_rate=interest_rate, term_weeks=term_weeks)
    except ScheduleError as exc:
        raise InvalidInputError(
            str(exc), code="installment_too_small", fields={"amount": [str(exc)]}
        ) from None

    with write_transaction():
        # The customer row is the lock every money-moving service takes first,
        # so credit-line checks and payments of one customer run one at a time.
        customer = customer_lock(external_id=customer_external_id)
        if customer is None:
            raise _unknown_customer(customer_external_id)
        if Loan.objects.filter(external_id=external_id).exists():
            raise violation_error(Loan, "loan_external_id_unique")
        if customer.status != Customer.Status.ACTIVE:
            raise BusinessRuleError(
                "The customer is inactive and cannot take new loans.", code="customer_inactive"
            )
        available = max(ZERO, customer.score - customer_total_debt(customer=customer))
        if terms.total_amount > available:
            raise BusinessRuleError(
                f"The loan's total amount {terms.total_amount} exceeds the customer's "
                f"available amount {available}.",
                code="credit_line_exceeded",
                extra={"available_amount": str(available)},
            )
        loan = Loan.objects.create(
            external_id=external_id,
            customer=customer,
            amount=terms.amount,
            interest_rate=terms.interest_rate,
            term_weeks=terms.term_weeks,
            total_amount=terms.total_amount,
            installment_amount=terms.installment_amount,
            outstanding=terms.total_amount,
            contract_version=contract_version,
        )
        Installment.objects.bulk_create(
            Installment(loan=loan, number=number, amount=amount)
            for number, amount in enumerate(terms.installment_amounts(), start=1)
        )
        transaction.on_commit(
            lambda: observability.loan_created(
                external_id=loan.external_id,
                customer_external_id=customer.external_id,
                amount=loan.amount,
                total_amount=loan.total_amount,
            )
        )
    loan.customer = customer
    return loan


def _locked_loan(external_id: str) -> Loan:
    """The loan, locked after its customer (the order every money-moving write takes)."""
    owner = Loan.objects.filter(external_id=external_id).values("customer_id").first()
    if owner is None:
        raise NotFoundError(f"No loan with external_id '{external_id}'.")
    customer = customer_lock(pk=owner["customer_id"])
    loan = Loan.objects.select_for_update().get(external_id=external_id)
    loan.customer = customer
    return loan


def _invalid_state(loan: Loan, action: str) -> BusinessRuleError:
    status = loan.get_status_display()
    article = "An" if status[0] in "aeiou" else "A"
    return BusinessRuleError(
        f"{article} {status} loan cannot be {action}; only a pending one can.",
        code="invalid_state",
    )


def loan_activate(*, external_id: str, taken_at: datetime | None = None) -> Loan:
    """Make a pending loan active from ``taken_at`` (default now; never in the future).

    Instalment *k* falls due on the local date of ``taken_at`` plus 7·*k* days.
    A ``taken_at`` earlier than one of the customer's payments changes the
    past (the loan could have taken that payment), so the customer's payments
    are replayed in the same transaction; should that leave a completed
    payment unable to apply in full, the activation is refused (422
    ``replay_conflict``) and nothing changes.
    """
    now = timezone.now()
    taken_at = taken_at or now
    if taken_at > now:
        message = "taken_at must not be in the future."
        raise InvalidInputError(message, code="taken_at_in_future", fields={"taken_at": [message]})
    start = timezone.localdate(taken_at)
    with write_transaction():
        loan = _locked_loan(external_id)
        if loan.status != Loan.Status.PENDING:
            raise _invalid_state(loan, "activated")
        now = timezone.now()  # the recording instant, read under the customer lock
        loan.status = Loan.Status.ACTIVE
        loan.taken_at = taken_at
        loan.start_date = start
        loan.activated_at = now
        loan.maximum_payment_date = maximum_payment_date(start, loan.term_weeks)
        loan.save(
            update_fields=[
                "status",
                "taken_at",
                "start_date",
                "activated_at",
                "maximum_payment_date",
                "updated_at",
            ]
        )
        # One statement fixes every due date: start + 7 × number days.
        Installment.objects.filter(loan=loan).update(
            due_date=expressions.due_date(start, F("number"))
        )
        _replay_if_backdated(loan, now)
        transaction.on_commit(
            lambda: observability.loan_activated(
                external_id=loan.external_id,
                customer_external_id=loan.customer.external_id,
                total_amount=loan.total_amount,
            )
        )
    return loan


def _replay_if_backdated(loan: Loan, now: datetime) -> None:
    """Replay the customer when a payment made after ``taken_at`` could now have paid the loan."""
    customer = loan.customer
    book = ledger.load_book(customer, since=loan.taken_at)
    if not book.payments:
        return
    loans = ledger.locked_loans(customer)
    loans = [loan if other.id == loan.id else other for other in loans]
    at = (loan.taken_at, EARLIEST, 0)  # before every payment made at or after taken_at
    ledger.replay_and_store(
        customer=customer, loans=loans, book=book, at=at, now=now, cause="backdated_activation"
    )


def loan_reject(*, external_id: str) -> Loan:
    """Reject a pending loan; it then owes nothing."""
    with write_transaction():
        loan = _locked_loan(external_id)
        if loan.status != Loan.Status.PENDING:
            raise _invalid_state(loan, "rejected")
        loan.status = Loan.Status.REJECTED
        loan.outstanding = ZERO
        loan.rejected_at = timezone.now()
        loan.save(update_fields=["status", "outstanding", "rejected_at", "updated_at"])
        transaction.on_commit(
            lambda: observability.loan_rejected(
                external_id=loan.external_id, customer_external_id=loan.customer.external_id
            )
        )
    return loan
