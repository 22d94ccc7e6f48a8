"""Payment writes. ``payment_make`` is the one place a payment's rules are enforced."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from billing.allocation import Overpayment, Position, allocate
from customers.models import Customer
from loans.models import Loan
from loans.selectors import loan_start, loan_terms
from mo_loans import observability
from mo_loans.api.errors import InvalidInputError, register_constraint_error
from mo_loans.db import write_transaction
from payments.models import Payment, PaymentDetail

DUPLICATE_EXTERNAL_ID = "A payment with this external_id already exists."

register_constraint_error(
    "payment_external_id_unique",
    InvalidInputError,
    code="duplicate_external_id",
    field="external_id",
    message=DUPLICATE_EXTERNAL_ID,
)


def _invalid(field: str, code: str, message: str) -> InvalidInputError:
    return InvalidInputError(message, code=code, fields={field: [message]})


def _loans_to_pay(customer: Customer, loan_external_id: str | None) -> list[Loan]:
    """The customer's active loans (or the one named), locked in id order."""
    loans = Loan.objects.select_for_update().filter(customer=customer).order_by("id")
    if loan_external_id is None:
        return list(loans.filter(status=Loan.Status.ACTIVE))
    loan = loans.filter(external_id=loan_external_id).first()
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
    if loan.status != Loan.Status.ACTIVE:
        raise _invalid(
            "loan_external_id",
            "loan_not_active",
            f"Loan '{loan_external_id}' is {loan.get_status_display()}; only active loans "
            "take payments.",
        )
    return [loan]


def payment_make(
    *,
    external_id: str,
    customer_external_id: str,
    total_amount: Decimal,
    loan_external_id: str | None = None,
) -> Payment:
    """Take a payment and spread it over the customer's active loans (or the one loan).

    Unpaid instalments are paid oldest due date first (ties: the loan taken
    first), each in full before the next. A payment larger than what is owed
    is recorded as rejected and changes no balance. An unknown customer or
    loan, a loan of another customer or not active, or a taken
    ``external_id`` is refused (400) and nothing is recorded.

    Locks: the customer row first, then its loans in id order, the same order
    every money-moving service uses, so concurrent payments queue instead of
    deadlocking, and none can spend an instalment another already paid.
    """
    with write_transaction():
        customer = (
            Customer.objects.select_for_update().filter(external_id=customer_external_id).first()
        )
        if customer is None:
            raise _invalid(
                "customer_external_id",
                "unknown_customer",
                f"No customer with external_id '{customer_external_id}'.",
            )
        if Payment.objects.filter(external_id=external_id).exists():
            raise _invalid("external_id", "duplicate_external_id", DUPLICATE_EXTERNAL_ID)
        loans = _loans_to_pay(customer, loan_external_id)
        payment = Payment(
            external_id=external_id,
            customer=customer,
            loan=loans[0] if loan_external_id else None,
            total_amount=total_amount,
            paid_at=timezone.now(),
        )
        positions = [
            Position(loan.id, loan_terms(loan), loan_start(loan), loan.taken_at, loan.paid_amount)
            for loan in loans
        ]
        try:
            shares = allocate(positions, total_amount)
        except Overpayment as exc:
            payment.status = Payment.Status.REJECTED
            payment.rejection_reason = (
                f"The payment of {total_amount} exceeds the {exc.owed} still owed."
                if exc.owed
                else "There is nothing to pay."
            )
            payment.save(force_insert=True)
            payment.detail_rows = []
            shares = {}
        else:
            payment.status = Payment.Status.COMPLETED
            payment.save(force_insert=True)
            touched = [loan for loan in loans if loan.id in shares]
            payment.detail_rows = PaymentDetail.objects.bulk_create(
                PaymentDetail(
                    payment=payment, loan=loan, amount=shares[loan.id], paid_at=payment.paid_at
                )
                for loan in touched
            )
            now = timezone.now()
            for loan in touched:
                loan.paid_amount += shares[loan.id]
                loan.outstanding = loan.total_amount - loan.paid_amount
                if loan.outstanding == 0:
                    loan.status = Loan.Status.PAID
                loan.updated_at = now
            Loan.objects.bulk_update(
                touched, ["paid_amount", "outstanding", "status", "updated_at"]
            )
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
