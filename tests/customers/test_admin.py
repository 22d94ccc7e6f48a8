from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from customers.models import Customer
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
    return browser


def test_customer_page_shows_balance_delinquency_and_links(staff_client):
    customer = CustomerFactory(external_id="ana", score=Decimal("6000000"))
    make_loan(
        customer=customer,
        external_id="L-1",
        amount="5000000",
        taken_at=timezone.now() - timedelta(days=30),
    )
    payment_make(external_id="p1", customer_external_id="ana", total_amount=Decimal("110000"))
    page = staff_client.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    assert "6,000,000.00" in page  # the credit line
    assert "5,390,000.00" in page  # total debt: 5,500,000 less one instalment
    assert "610,000.00" in page  # available
    assert "Yes: a loan has 2 or more missed instalments" in page  # instalments 2-4 missed
    assert f"/admin/loans/loan/?customer__id__exact={customer.pk}" in page
    assert f"/admin/payments/payment/?customer__id__exact={customer.pk}" in page
    assert "1 loan(s)" in page and "1 payment(s)" in page


def test_customer_list_shows_money_with_separators(staff_client):
    CustomerFactory(external_id="bob", score=Decimal("1234567.5"))
    page = staff_client.get("/admin/customers/customer/").content.decode()
    assert "1,234,567.50" in page


def test_the_loans_link_lists_only_that_customers_loans(staff_client):
    ana = CustomerFactory(external_id="ana")
    make_loan(customer=ana, external_id="ana-loan", amount="100")
    make_loan(external_id="other-loan", amount="100")
    page = staff_client.get(f"/admin/loans/loan/?customer__id__exact={ana.pk}").content.decode()
    assert "ana-loan" in page and "other-loan" not in page


def test_customer_changes_go_through_the_service(staff_client):
    customer = CustomerFactory(external_id="cid", score=Decimal("10"), name="A")
    response = staff_client.post(
        f"/admin/customers/customer/{customer.pk}/change/",
        {"score": "20", "status": 2, "name": "B", "email": ""},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.score, customer.status, customer.name) == (Decimal("20"), 2, "B")
    assert customer.external_id == "cid"


def test_staff_without_the_change_permission_reads_only():
    customer = CustomerFactory(external_id="ro")
    user = User.objects.create_user("viewer", "v@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    viewer = Client()
    viewer.force_login(User.objects.get(username="viewer"))
    page = viewer.get(f"/admin/customers/customer/{customer.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert "Available amount" in page
    viewer.post(f"/admin/customers/customer/{customer.pk}/change/", {"score": "0"})
    assert Customer.objects.get(pk=customer.pk).score == customer.score
