from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from payments.models import Payment
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan
from tests.payments.conftest import taken

pytestmark = pytest.mark.django_db


@pytest.fixture
def payment():
    customer = CustomerFactory(external_id="adm-c", score=Decimal("100000"))
    make_loan(customer=customer, external_id="adm-l", amount="1000", taken_at=taken(10))
    return payment_make(
        external_id="adm-p", customer_external_id="adm-c", total_amount=Decimal("250")
    )


def login(user):
    browser = Client()
    browser.force_login(user)
    return browser


def test_reverse_action_asks_for_a_reason_then_reverses_through_the_service(payment):
    browser = login(User.objects.create_superuser("root", "r@example.com", "pw"))
    chosen = {"action": "reverse_payments", "_selected_action": [payment.pk]}
    form = browser.post("/admin/payments/payment/", chosen)
    assert form.status_code == 200
    assert 'name="reason"' in form.content.decode()
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.COMPLETED
    browser.post("/admin/payments/payment/", {**chosen, "apply": "1", "reason": "bounced"})
    reversed_payment = Payment.objects.get(pk=payment.pk)
    assert (reversed_payment.status, reversed_payment.reversal_reason) == (
        Payment.Status.REVERSED,
        "bounced",
    )
    # A second reversal is refused by the service and reported, not applied.
    page = browser.post(
        "/admin/payments/payment/", {**chosen, "apply": "1", "reason": "again"}, follow=True
    )
    assert "cannot be reversed" in page.content.decode()


def test_staff_without_the_permission_sees_no_reverse_action(payment):
    clerk = User.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_payment"))
    page = login(clerk).get("/admin/payments/payment/").content.decode()
    assert "adm-p" in page
    assert "reverse_payments" not in page
    login(clerk).post(
        "/admin/payments/payment/",
        {
            "action": "reverse_payments",
            "_selected_action": [payment.pk],
            "apply": "1",
            "reason": "x",
        },
    )
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.COMPLETED


@pytest.fixture
def staff_client():
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
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


def test_reverse_button_on_a_completed_payments_page(staff_client, payments):
    _, done, refused = payments
    page = staff_client.get(f"/admin/payments/payment/{done.pk}/change/").content.decode()
    assert 'id="payment-reverse-button"' in page
    response = staff_client.post(
        f"/admin/payments/payment/{done.pk}/reverse/", {"reason": "transfer bounced"}, follow=True
    )
    assert "Reversed ok." in response.content.decode()
    reversed_payment = Payment.objects.get(pk=done.pk)
    assert (reversed_payment.status, reversed_payment.reversal_reason) == (
        Payment.Status.REVERSED,
        "transfer bounced",
    )
    # A reversed or rejected payment offers no button, and the service refuses a second try.
    for payment in (done, refused):
        page = staff_client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
        assert "payment-reverse-button" not in page
    response = staff_client.post(
        f"/admin/payments/payment/{done.pk}/reverse/", {"reason": "again"}, follow=True
    )
    assert "Payment ok: " in response.content.decode()
    assert Payment.objects.get(pk=done.pk).reversal_reason == "transfer bounced"


def test_reverse_button_needs_a_reason(staff_client, payments):
    _, done, _ = payments
    staff_client.post(f"/admin/payments/payment/{done.pk}/reverse/", {"reason": ""})
    assert Payment.objects.get(pk=done.pk).status == Payment.Status.COMPLETED


def test_staff_without_the_reverse_permission_sees_no_button(payments):
    _, done, _ = payments
    clerk = User.objects.create_user("viewer", password="pw", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_payment"))
    browser = login(clerk)
    page = browser.get(f"/admin/payments/payment/{done.pk}/change/").content.decode()
    assert "ok" in page and "payment-reverse-button" not in page
    response = browser.post(f"/admin/payments/payment/{done.pk}/reverse/", {"reason": "x"})
    assert response.status_code == 403
    assert Payment.objects.get(pk=done.pk).status == Payment.Status.COMPLETED


def test_the_reverse_form_shows_money_with_separators(staff_client, payments):
    _, done, _ = payments
    form = staff_client.post(
        "/admin/payments/payment/", {"action": "reverse_payments", "_selected_action": [done.pk]}
    )
    assert "1,234,567.89" in form.content.decode()
