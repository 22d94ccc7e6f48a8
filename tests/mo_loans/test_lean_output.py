"""Lean output serializers (mo_loans.api.lean) render exactly what DRF renders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from customers.models import Customer
from customers.serializers import CustomerOutputSerializer
from loans import selectors
from loans.serializers import (
    BalanceDetailOutputSerializer,
    InstallmentOutputSerializer,
    LoanDetailOutputSerializer,
    LoanOutputSerializer,
    LoanStateOutputSerializer,
)
from mo_loans.api.lean import LeanOutputMixin, drf_representation
from payments.selectors import payment_get
from payments.serializers import PaymentOutputSerializer
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


def same(serializer_class, instance) -> dict:
    lean = serializer_class(instance).data
    assert issubclass(serializer_class, LeanOutputMixin)
    drf = drf_representation(serializer_class(), instance)
    assert lean == drf
    assert list(lean) == list(drf)  # the same keys in the same order
    return lean


@pytest.fixture
def book():
    customer = CustomerFactory(score=Decimal("123456789012.30"))
    loan = make_loan(
        customer=customer,
        external_id="lean-active",
        amount="1000.10",
        taken_at=timezone.now() - timedelta(days=20),
    )
    pending = make_loan(customer=customer, external_id="lean-pending", amount="7.05")  # nulls
    payment = payment_make(
        external_id="lean-pay",
        customer_external_id=customer.external_id,
        total_amount=Decimal("30"),
    )
    rejected = payment_make(
        external_id="lean-rejected",
        customer_external_id=customer.external_id,
        total_amount=Decimal("99999999.99"),
    )
    return customer, loan, pending, payment, rejected


@pytest.mark.parametrize("zone", ["UTC", "America/Sao_Paulo", "Asia/Kolkata"])
def test_every_lean_serializer_renders_as_drf_does(book, settings, zone):
    settings.TIME_ZONE = zone
    timezone.activate(zone)
    try:
        customer, loan, pending, payment, rejected = book
        for one in (loan, pending):
            same(LoanOutputSerializer, selectors.loan_list().get(pk=one.pk))
            shown = selectors.loan_view(loan=selectors.loan_get(external_id=one.external_id))
            data = same(LoanDetailOutputSerializer, shown)
        assert data["rejected_at"] is None and data["taken_at"] is None
        for shown in selectors.loan_views(loans=list(selectors.loan_list())):
            same(LoanStateOutputSerializer, shown)
        for row in selectors.loan_schedule(loan=loan):
            same(InstallmentOutputSerializer, row)
        balance = selectors.customer_balance(customer=Customer.objects.get(pk=customer.pk))
        same(BalanceDetailOutputSerializer, {"external_id": customer.external_id, **balance})
        data = same(CustomerOutputSerializer, Customer.objects.get(pk=customer.pk))
        assert data["score"] == "123456789012.30"
        for made in (payment, rejected):
            data = same(PaymentOutputSerializer, payment_get(external_id=made.external_id))
        assert data["loan_external_id"] is None and data["details"] == []
    finally:
        timezone.deactivate()


def test_a_datetime_renders_with_z_for_utc_and_an_offset_elsewhere(book, settings):
    _, loan, *_ = book
    row = selectors.loan_list().get(pk=loan.pk)
    row.taken_at = row.taken_at.replace(microsecond=123456)
    assert same(LoanOutputSerializer, row)["taken_at"].endswith(".123456Z")
    timezone.activate("Asia/Kolkata")
    try:
        assert same(LoanOutputSerializer, row)["taken_at"].endswith("+05:30")
    finally:
        timezone.deactivate()


@pytest.mark.parametrize(
    "amount", ["0.00", "-0.00", "5", "5.1", "5.125", "1E+3", "999999999999.99"]
)
def test_money_renders_as_drf_does_whatever_its_places(book, amount):
    _, loan, *_ = book
    row = selectors.loan_list().get(pk=loan.pk)
    row.outstanding = Decimal(amount)
    same(LoanOutputSerializer, row)
