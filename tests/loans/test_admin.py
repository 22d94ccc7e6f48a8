import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.utils import timezone

from loans.models import Loan
from payments.services import payment_make
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client():
    user = User.objects.create_superuser("admin", "admin@example.com", "pw")
    browser = Client()
    # force_login: django-axes guards authenticate(), which needs the request the
    # test client's login() does not pass. The real login form is tested with axes.
    browser.force_login(user)
    return browser


def _staff(*codenames: str) -> Client:
    user = User.objects.create_user("clerk", "clerk@example.com", "pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    browser = Client()
    browser.force_login(user)
    return browser


def _page(client: Client, loan: Loan) -> str:
    response = client.get(f"/admin/loans/loan/{loan.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def _schedule_rows(page: str) -> list[list[str]]:
    body = page.split('id="installments-group"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<tr class="form-row".*?</tr>', body, re.S)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td.*?</td>", row, re.S)]
        for row in rows
    ]


def test_admin_is_branded(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert "<title>Operations | MO Loans</title>" in page
    assert ">MO Loans</a>" in page


def test_admin_lists_searches_and_shows_money_with_separators(staff_client):
    make_loan(external_id="adm-1", amount="5000000")
    page = staff_client.get("/admin/loans/loan/?q=adm").content.decode()
    assert "adm-1" in page
    assert "5,000,000.00" in page
    assert "5,500,000.00" in page  # outstanding


def test_schedule_shows_paid_amount_and_status_as_of_today(staff_client):
    customer = CustomerFactory(score=Decimal("1000000"))
    loan = make_loan(
        customer=customer,
        external_id="sch-1",
        amount="3000",
        interest_rate="0",
        term_weeks=3,
        taken_at=timezone.now() - timedelta(days=10),
    )
    payment_make(
        external_id="p-sch", customer_external_id=customer.external_id, total_amount=Decimal("1500")
    )
    rows = _schedule_rows(_page(staff_client, loan))
    start = timezone.localdate(Loan.objects.get(pk=loan.pk).taken_at)
    assert rows == [
        ["1", (start + timedelta(days=7)).isoformat(), "1,000.00", "1,000.00", "paid"],
        [
            "2",
            (start + timedelta(days=14)).isoformat(),
            "1,000.00",
            "500.00",
            "partial",
        ],
        ["3", (start + timedelta(days=21)).isoformat(), "1,000.00", "0.00", "due"],
    ]


def test_schedule_has_no_object_captions(staff_client):
    loan = make_loan(external_id="cap-1", amount="300", interest_rate="0", term_weeks=3)
    page = _page(staff_client, loan)
    assert f"{loan.pk} #1" not in page
    assert 'class="original"' not in page


def test_the_schedule_costs_the_same_queries_for_3_or_50_instalments(
    staff_client, django_assert_num_queries
):
    small = make_loan(external_id="q-3", amount="300", interest_rate="0", term_weeks=3)
    large = make_loan(external_id="q-50", amount="5000", interest_rate="0", term_weeks=50)
    _page(staff_client, small)  # warm the session and content-type caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as three:
        _page(staff_client, small)
    with django_assert_num_queries(len(three.captured_queries)):
        assert len(_schedule_rows(_page(staff_client, large))) == 50


def test_read_only_loan_page_has_no_save_buttons(staff_client):
    loan = make_loan(external_id="ro-1", amount="100", taken_at=timezone.now())
    page = _page(staff_client, loan)
    assert 'name="_save"' not in page
    assert 'name="_continue"' not in page
    assert "loan-activate" not in page  # an active loan offers no lifecycle buttons


def test_activate_from_the_loan_page_with_a_past_taken_at(staff_client):
    loan = make_loan(external_id="act-1", amount="100")
    page = _page(staff_client, loan)
    assert 'id="loan-activate"' in page and 'id="loan-reject"' in page
    taken = timezone.localtime() - timedelta(days=3)
    response = staff_client.post(
        f"/admin/loans/loan/{loan.pk}/activate/",
        {"taken_at": taken.strftime("%Y-%m-%dT%H:%M")},
        follow=True,
    )
    assert "Activated act-1" in response.content.decode()
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert timezone.localtime(loan.taken_at).strftime("%Y-%m-%dT%H:%M") == taken.strftime(
        "%Y-%m-%dT%H:%M"
    )


def test_activate_without_taken_at_means_now(staff_client):
    loan = make_loan(external_id="act-2", amount="100")
    staff_client.post(f"/admin/loans/loan/{loan.pk}/activate/", {"taken_at": ""})
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    assert timezone.now() - loan.taken_at < timedelta(minutes=5)


def test_activate_in_the_future_is_refused_by_the_service(staff_client):
    loan = make_loan(external_id="act-3", amount="100")
    future = timezone.localtime() + timedelta(days=2)
    response = staff_client.post(
        f"/admin/loans/loan/{loan.pk}/activate/",
        {"taken_at": future.strftime("%Y-%m-%dT%H:%M")},
        follow=True,
    )
    assert "taken_at must not be in the future" in response.content.decode()
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PENDING


def test_reject_from_the_loan_page(staff_client):
    loan = make_loan(external_id="rej-1", amount="100")
    response = staff_client.post(f"/admin/loans/loan/{loan.pk}/reject/", follow=True)
    assert "Rejected rej-1." in response.content.decode()
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.REJECTED
    response = staff_client.post(f"/admin/loans/loan/{loan.pk}/reject/", follow=True)
    assert "Loan rej-1: " in response.content.decode()  # the service's refusal, not bypassed


def test_lifecycle_needs_a_post(staff_client):
    loan = make_loan(external_id="get-1", amount="100")
    assert staff_client.get(f"/admin/loans/loan/{loan.pk}/reject/").status_code == 403
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PENDING


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
    assert "Loan p1: " in response.content.decode()  # the service refused it, and said so
    assert Loan.objects.get(pk=pending.pk).status == Loan.Status.ACTIVE


def test_staff_without_the_change_permission_sees_no_action():
    loan = make_loan(external_id="view-1", amount="100")
    viewer = _staff("view_loan")
    page = _page(viewer, loan)
    assert "loan-activate" not in page and "loan-reject" not in page
    assert "Schedule as of today" in page
    listing = viewer.get("/admin/loans/loan/").content.decode()
    assert 'value="activate"' not in listing and 'value="reject"' not in listing
    assert viewer.post(f"/admin/loans/loan/{loan.pk}/activate/").status_code == 403
    assert viewer.post(f"/admin/loans/loan/{loan.pk}/reject/").status_code == 403
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PENDING


def test_staff_with_the_change_permission_sees_the_actions():
    loan = make_loan(external_id="chg-1", amount="100")
    clerk = _staff("view_loan", "change_loan")
    assert 'id="loan-activate"' in _page(clerk, loan)
    assert 'value="activate"' in clerk.get("/admin/loans/loan/").content.decode()


def test_admin_is_for_staff_only(client):
    response = client.get("/admin/loans/loan/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_activate_with_an_unreadable_taken_at_changes_nothing(staff_client):
    loan = make_loan(external_id="act-4", amount="100")
    response = staff_client.post(
        f"/admin/loans/loan/{loan.pk}/activate/", {"taken_at": "soon"}, follow=True
    )
    assert "Taken at: Enter a valid date/time." in response.content.decode()
    assert Loan.objects.get(pk=loan.pk).status == Loan.Status.PENDING


def test_loan_page_shows_its_billing_state_today(staff_client):
    customer = CustomerFactory(score=Decimal("1000000"))
    loan = make_loan(
        customer=customer,
        external_id="late-1",
        amount="3000",
        interest_rate="0",
        term_weeks=3,
        taken_at=timezone.now() - timedelta(days=16),
    )
    page = _page(staff_client, loan)
    assert "Billing state as of today" in page
    assert "Yes: 2 or more missed instalments" in page  # due on days 7 and 14, nothing paid
    assert "2,000.00" in page  # overdue
    payment_make(
        external_id="p-late",
        customer_external_id=customer.external_id,
        total_amount=Decimal("2000"),
    )
    page = _page(staff_client, loan)
    assert "Yes: 2 or more" not in page


def test_closed_days_are_listed_and_shown_read_only(staff_client):
    from loans.closing import portfolio_close

    customer = CustomerFactory(score=Decimal("100000"))
    loan = make_loan(
        customer=customer,
        external_id="closed-day-loan",
        amount="1000",
        taken_at=timezone.now() - timedelta(days=30),
    )
    day = timezone.localdate() - timedelta(days=1)
    (close,) = portfolio_close(days=[day], known_at=timezone.now())
    listing = staff_client.get("/admin/loans/portfolioclose/")
    assert listing.status_code == 200
    assert day.strftime("%b. %-d, %Y").replace("May.", "May") in listing.content.decode()
    page = staff_client.get(f"/admin/loans/portfolioclose/{close.pk}/change/").content.decode()
    # One loan, nothing paid: late since its first instalment fell due.
    late = (day - (loan.start_date + timedelta(days=7))).days
    assert f'field-days_past_due">{late}<' in page
    assert f"{loan.total_amount:,}" in page
    assert staff_client.get("/admin/loans/portfolioclose/add/").status_code == 403
    delete = staff_client.post(f"/admin/loans/portfolioclose/{close.pk}/delete/", {"post": "yes"})
    assert delete.status_code == 403
