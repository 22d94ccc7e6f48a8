"""The admin portfolio page in a real browser: the numbers shown are GET /api/portfolio's."""

from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework_api_key.models import APIKey

from tests.browser.conftest import admin_login
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db(transaction=True)


def book():
    customer = CustomerFactory(score=Decimal("1000000"))
    for days, name in ((0, "new"), (20, "late"), (45, "later"), (120, "lost")):
        make_loan(
            customer=customer,
            external_id=name,
            amount="1000.00",
            term_weeks=10,
            taken_at=timezone.now() - timedelta(days=days),
        )


def shown(driver):
    from selenium.webdriver.common.by import By

    def text(element_id):
        return driver.find_element(By.ID, element_id).text.strip()

    figures = {
        "as_of": driver.find_element(By.ID, "as-of").get_attribute("data-as-of"),
        "active_loans": int(text("active-loans")),
        "gross_outstanding": text("gross-outstanding"),
        "outstanding_principal": text("outstanding-principal"),
        "delinquent_loans": int(text("delinquent-loans")),
        "delinquent_customers": int(text("delinquent-customers")),
        "par": {
            days: driver.find_element(By.ID, f"par-{days}").get_attribute("data-ratio")
            for days in ("1", "7", "30", "90")
        },
        "buckets": [],
    }
    for row in driver.find_elements(By.CSS_SELECTOR, "#buckets tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        figures["buckets"].append(
            {
                "bucket": row.get_attribute("data-bucket"),
                "loans": int(cells[1].text),
                "outstanding": cells[2].text,
                "outstanding_principal": cells[3].text,
            }
        )
    return figures


def api(live_server, key, **params):
    response = httpx.get(
        f"{live_server.url}/api/portfolio",
        params=params,
        headers={"Authorization": f"Api-Key {key}"},
    )
    assert response.status_code == 200
    body = response.json()
    return {
        name: body[name]
        for name in (
            "as_of",
            "active_loans",
            "gross_outstanding",
            "outstanding_principal",
            "delinquent_loans",
            "delinquent_customers",
            "par",
            "buckets",
        )
    }


def test_the_portfolio_page_shows_the_api_figures(chrome, live_server, tmp_path):
    from selenium.webdriver.common.by import By

    book()
    User.objects.create_superuser("boss", "boss@example.com", "s3cret-pw")
    _, key = APIKey.objects.create_key(name="browser")

    admin_login(chrome, live_server.url, "boss", "s3cret-pw")
    chrome.find_element(By.ID, "portfolio-link").click()
    assert chrome.title.startswith("Portfolio risk")
    assert shown(chrome) == api(live_server, key)
    assert shown(chrome)["active_loans"] == 4
    for chart in ("par-chart", "bucket-chart", "trend-chart"):
        svg = chrome.find_element(By.CSS_SELECTOR, f"#{chart} svg")
        assert svg.size["width"] > 100 and svg.size["height"] > 100, chart
    assert len(chrome.find_elements(By.CSS_SELECTOR, "#trend-chart polyline")) == 4

    # The date picker: 60 days ago "lost" was the only loan, already 53 days past due.
    as_of = (timezone.localdate() - timedelta(days=60)).isoformat()
    chrome.execute_script(
        "document.getElementById('id_as_of').value = arguments[0];"
        "document.getElementById('as-of-form').submit();",
        as_of,
    )
    chrome.find_element(By.CSS_SELECTOR, f'#as-of[data-as-of="{as_of}"]')
    assert shown(chrome) == api(live_server, key, as_of=as_of)

    chrome.get(f"{live_server.url}/admin/portfolio/")
    screenshot = tmp_path / "admin-portfolio.png"
    assert chrome.save_screenshot(str(screenshot))
    assert screenshot.stat().st_size > 10_000
    print(f"admin portfolio screenshot: {screenshot}")
