from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from loans.models import Loan
from tests.factories import make_loan

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    from django.test import Client

    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    browser = Client()
    # force_login: django-axes guards authenticate(), which needs the request the
    # test client's login() does not pass. The real login form is tested with axes.
    browser.force_login(user)
    return browser


def test_admin_lists_searches_and_shows_the_schedule(staff_client):
    loan = make_loan(external_id="adm-1", term_weeks=3, amount="300", interest_rate="0")
    assert "adm-1" in staff_client.get("/admin/loans/loan/?q=adm").content.decode()
    page = staff_client.get(f"/admin/loans/loan/{loan.pk}/change/").content.decode()
    assert page.count("100.00") >= 3  # three instalments inline


def test_admin_actions_go_through_the_services(staff_client):
    pending = make_loan(external_id="p1")
    active = make_loan(external_id="a1", amount="100", taken_at=timezone.now() - timedelta(days=1))
    staff_client.post(
        "/admin/loans/loan/",
        {"action": "activate", "_selected_action": [pending.pk, active.pk]},
        follow=True,
    )
    assert Loan.objects.get(pk=pending.pk).status == Loan.Status.ACTIVE
    assert Loan.objects.get(pk=active.pk).status == Loan.Status.ACTIVE
    response = staff_client.post(
        "/admin/loans/loan/",
        {"action": "reject", "_selected_action": [pending.pk]},
        follow=True,
    )
    assert "only a pending one can" in response.content.decode()
    assert Loan.objects.get(pk=pending.pk).status == Loan.Status.ACTIVE


def test_admin_is_for_staff_only(client):
    response = client.get("/admin/loans/loan/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
