"""The database refuses ledgers that don't add up, whatever code writes them."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from loans.models import Loan
from payments.models import Payment, PaymentDetail
from payments.services import payment_make

pytestmark = pytest.mark.django_db


def check_now():
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def new_payment(customer, status=Payment.Status.COMPLETED, total="100", reason=""):
    return Payment.objects.create(
        external_id=f"x{Payment.objects.count()}",
        customer=customer,
        total_amount=Decimal(total),
        status=status,
        paid_at=timezone.now(),
        rejection_reason=reason,
    )


def test_completed_payment_details_must_add_up_to_its_total(two_loans):
    a, _ = two_loans
    with pytest.raises(IntegrityError, match="add up"), transaction.atomic():
        payment = new_payment(a.customer, total="100")
        PaymentDetail.objects.create(
            payment=payment, loan=a, amount=Decimal("60"), paid_at=payment.paid_at
        )
        Loan.objects.filter(pk=a.pk).update(paid_amount=60, outstanding=940)
        check_now()


def test_rejected_payment_has_no_details(two_loans):
    a, _ = two_loans
    with pytest.raises(IntegrityError, match="rejected payment"), transaction.atomic():
        payment = new_payment(a.customer, status=Payment.Status.REJECTED, reason="no")
        PaymentDetail.objects.create(
            payment=payment, loan=a, amount=Decimal("100"), paid_at=payment.paid_at
        )
        Loan.objects.filter(pk=a.pk).update(paid_amount=100, outstanding=900)
        check_now()


def test_loan_paid_amount_must_match_its_details(two_loans):
    a, _ = two_loans
    with pytest.raises(IntegrityError, match="paid_amount"), transaction.atomic():
        Loan.objects.filter(pk=a.pk).update(paid_amount=10, outstanding=990)
        check_now()


def test_payments_are_append_only(two_loans):
    payment_make(external_id="p", customer_external_id="C1", total_amount=Decimal("10"))
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        Payment.objects.filter(external_id="p").update(total_amount=5)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        PaymentDetail.objects.all().delete()


def test_service_writes_pass_every_check(two_loans):
    payment_make(external_id="ok", customer_external_id="C1", total_amount=Decimal("777.77"))
    check_now()
    assert sum(d.amount for d in PaymentDetail.objects.all()) == Decimal("777.77")
