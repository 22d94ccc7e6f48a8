"""The admin portfolio page: staff only, linked from the index, the API's figures, SVG charts."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff():
    User.objects.create_superuser("admin", "admin@example.com", "pw")
    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
    return browser


@pytest.fixture
def book():
    customer = CustomerFactory(score=Decimal("100000"))
    make_loan(
        customer=customer,
        external_id="late",
        amount="1000.00",
        term_weeks=10,
        taken_at=timezone.now() - timedelta(days=35),
    )
    make_loan(customer=customer, external_id="new", amount="3000.00", taken_at=timezone.now())


def cell(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match, element_id
    return match.group(1).strip()


def test_the_index_links_to_the_portfolio_page(staff):
    page = staff.get("/admin/").content.decode()
    assert 'href="/admin/portfolio/"' in page


def test_the_page_shows_the_api_figures_and_svg_charts(staff, client, book):
    body = client.get("/api/portfolio").json()
    response = staff.get("/admin/portfolio/")
    assert response.status_code == 200
    page = response.content.decode()
    assert cell(page, "active-loans") == str(body["active_loans"]) == "2"
    assert cell(page, "gross-outstanding") == body["gross_outstanding"]
    assert cell(page, "outstanding-principal") == body["outstanding_principal"]
    for days, ratio in body["par"].items():
        assert cell(page, f"par-{days}").startswith(ratio)
    assert cell(page, "par-1") == "0.2500 (25.00%)"
    for bucket in body["buckets"]:
        row = re.search(rf'data-bucket="{re.escape(bucket["bucket"])}">(.*?)</tr>', page, re.S)
        assert row, bucket
        assert f'class="loans">{bucket["loans"]}<' in row.group(1)
        assert f'class="outstanding-principal">{bucket["outstanding_principal"]}<' in row.group(1)
    for chart in ("par-chart", "bucket-chart", "trend-chart"):
        assert re.search(rf'<figure id="{chart}"><figcaption>[^<]*</figcaption><svg ', page)
    assert page.count("<polyline") == 4  # PAR1, 7, 30, 90 over the weeks
    assert len(re.findall(r'<tr data-as-of="', page)) == 12
    # No external assets: nothing is loaded from another host.
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_as_of_picks_the_date(staff, client, book):
    as_of = (timezone.localdate() - timedelta(days=30)).isoformat()
    body = client.get("/api/portfolio", {"as_of": as_of}).json()
    page = staff.get("/admin/portfolio/", {"as_of": as_of}).content.decode()
    assert f'data-as-of="{as_of}">As of {as_of}<' in page
    assert cell(page, "active-loans") == str(body["active_loans"]) == "1"
    assert cell(page, "par-1").startswith(body["par"]["1"])


def test_a_bad_date_shows_today_and_says_so(staff):
    page = staff.get("/admin/portfolio/", {"as_of": "soon"}).content.decode()
    assert "Not a date" in page
    assert f"As of {timezone.localdate().isoformat()}" in page


def test_the_page_is_for_staff_only(client):
    anonymous = Client()
    response = anonymous.get("/admin/portfolio/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    User.objects.create_user("clerk", "clerk@example.com", "pw")
    clerk = Client()
    clerk.force_login(User.objects.get(username="clerk"))
    assert clerk.get("/admin/portfolio/").status_code == 302
