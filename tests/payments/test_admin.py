from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from payments.models import Payment
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    browser = Client()
    browser.login(username="admin", password="pw")
    return browser


@pytest.fixture
def payments(db):
    customer = CustomerFactory(external_id="ana", score=Decimal("100000000"))
    loan = make_loan(
        customer=customer, external_id="L-1", amount="5000000", taken_at=timezone.now()
    )
    done = payment_make(
        external_id="ok", customer_external_id="ana", total_amount=Decimal("1234567.89")
    )
    refused = payment_make(
        external_id="too-much", customer_external_id="ana", total_amount=Decimal("99999999")
    )
    return loan, done, refused


def test_payment_list_shows_money_and_the_rejection_reason(staff_client, payments):
    _, _, refused = payments
    assert refused.status == Payment.Status.REJECTED
    page = staff_client.get("/admin/payments/payment/").content.decode()
    assert "1,234,567.89" in page
    assert "99,999,999.00" in page
    assert refused.rejection_reason in page


def test_payment_page_shows_its_details_without_captions_or_save(staff_client, payments):
    loan, done, _ = payments
    page = staff_client.get(f"/admin/payments/payment/{done.pk}/change/").content.decode()
    assert "Applied to" in page
    assert f'href="/admin/loans/loan/{loan.pk}/change/">L-1</a>' in page
    assert page.count("1,234,567.89") >= 2  # the total and the one detail
    assert "→" not in page  # no "<payment> → <loan>: <amount>" captions
    assert 'name="_save"' not in page


def test_rejected_payment_page_shows_its_reason(staff_client, payments):
    _, _, refused = payments
    page = staff_client.get(f"/admin/payments/payment/{refused.pk}/change/").content.decode()
    assert "Rejection reason" in page
    assert refused.rejection_reason in page
