"""Loan writes: create, activate, reject. The one place loan rules are enforced."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone

from billing.money import ZERO
from billing.schedule import ScheduleError, make_terms, maximum_payment_date
from customers.models import Customer
from loans.models import OPEN_STATUSES, Installment, Loan
from mo_loans import observability
from mo_loans.api.errors import (
    BusinessRuleError,
    InvalidInputError,
    NotFoundError,
    register_constraint_error,
)
from mo_loans.db import write_transaction

DUPLICATE_EXTERNAL_ID = "A loan with this external_id already exists."

register_constraint_error(
    "loan_external_id_unique",
    InvalidInputError,
    code="duplicate_external_id",
    field="external_id",
    message=DUPLICATE_EXTERNAL_ID,
)


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
        customer = (
            Customer.objects.select_for_update().filter(external_id=customer_external_id).first()
        )
        if customer is None:
            raise _unknown_customer(customer_external_id)
        if Loan.objects.filter(external_id=external_id).exists():
            raise InvalidInputError(
                DUPLICATE_EXTERNAL_ID,
                code="duplicate_external_id",
                fields={"external_id": [DUPLICATE_EXTERNAL_ID]},
            )
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
    loan = (
        Loan.objects.select_related("customer")
        .select_for_update(of=("self",))
        .filter(external_id=external_id)
        .first()
    )
    if loan is None:
        raise NotFoundError(f"No loan with external_id '{external_id}'.")
    return loan


def _invalid_state(loan: Loan, action: str) -> BusinessRuleError:
    return BusinessRuleError(
        f"A {loan.get_status_display()} loan cannot be {action}; only a pending one can.",
        code="invalid_state",
    )


def loan_activate(*, external_id: str, taken_at: datetime | None = None) -> Loan:
    """Make a pending loan active from ``taken_at`` (default now; never in the future).

    Instalment *k* falls due on the local date of ``taken_at`` plus 7·*k* days.
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
        loan.status = Loan.Status.ACTIVE
        loan.taken_at = taken_at
        loan.maximum_payment_date = maximum_payment_date(start, loan.term_weeks)
        loan.save(update_fields=["status", "taken_at", "maximum_payment_date", "updated_at"])
        # One statement fixes every due date: start + 7 × number days.
        Installment.objects.filter(loan=loan).update(
            due_date=RawSQL("%s::date + 7 * number", (start,))
        )
        transaction.on_commit(
            lambda: observability.loan_activated(
                external_id=loan.external_id,
                customer_external_id=loan.customer.external_id,
                total_amount=loan.total_amount,
            )
        )
    return loan


def loan_reject(*, external_id: str) -> Loan:
    """Reject a pending loan; it then owes nothing."""
    with write_transaction():
        loan = _locked_loan(external_id)
        if loan.status != Loan.Status.PENDING:
            raise _invalid_state(loan, "rejected")
        loan.status = Loan.Status.REJECTED
        loan.outstanding = ZERO
        loan.save(update_fields=["status", "outstanding", "updated_at"])
        transaction.on_commit(
            lambda: observability.loan_rejected(
                external_id=loan.external_id, customer_external_id=loan.customer.external_id
            )
        )
    return loan
