"""An operator's morning in a real browser: log in, activate a loan, see it paid."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from loans.models import Loan
from payments.services import payment_make
from tests.browser.conftest import admin_login, wait
from tests.factories import CustomerFactory, make_loan

pytestmark = pytest.mark.django_db(transaction=True)


def _schedule(driver) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    rows = driver.find_elements(By.CSS_SELECTOR, "#installments-group tbody tr.form-row")
    return [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_operator_activates_a_loan_and_sees_a_paid_instalment(chrome, live_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    User.objects.create_superuser("operator", "op@example.com", "secret-pw")
    customer = CustomerFactory(external_id="ana", score=Decimal("1000000"))
    loan = make_loan(
        customer=customer, external_id="L-ana", amount="3000", interest_rate="0", term_weeks=3
    )

    admin_login(chrome, live_server.url, "operator", "secret-pw")
    assert "MO Loans" in chrome.title
    chrome.get(f"{live_server.url}/admin/loans/loan/")
    # The list's columns fit a laptop screen (1366 px): no sideways scrolling.
    assert chrome.execute_script(
        "const t = document.getElementById('result_list');"
        "return t.scrollWidth <= t.parentElement.clientWidth;"
    )
    chrome.find_element(By.LINK_TEXT, "L-ana").click()
    wait(chrome).until(ec.presence_of_element_located((By.ID, "loan-activate")))
    chrome.save_screenshot(str(tmp_path / "1-pending-loan.png"))

    taken = timezone.localtime() - timedelta(days=10)
    field = chrome.find_element(By.ID, "id_taken_at")
    chrome.execute_script(
        "arguments[0].value = arguments[1];", field, taken.strftime("%Y-%m-%dT%H:%M")
    )
    chrome.find_element(By.ID, "loan-activate").click()
    wait(chrome).until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, ".messagelist"), "L-ana"))
    assert "Activated L-ana" in chrome.find_element(By.CSS_SELECTOR, ".messagelist").text
    assert not chrome.find_elements(By.ID, "loan-activate")  # an active loan has no buttons
    loan.refresh_from_db()
    assert loan.status == Loan.Status.ACTIVE
    chrome.save_screenshot(str(tmp_path / "2-activated.png"))

    payment_make(external_id="P-ana", customer_external_id="ana", total_amount=Decimal("1500"))
    chrome.refresh()
    wait(chrome).until(ec.presence_of_element_located((By.ID, "installments-group")))
    start = timezone.localdate(loan.taken_at)
    assert _schedule(chrome) == [
        ["1", (start + timedelta(days=7)).isoformat(), "1,000.00", "1,000.00", "paid"],
        ["2", (start + timedelta(days=14)).isoformat(), "1,000.00", "500.00", "partial"],
        ["3", (start + timedelta(days=21)).isoformat(), "1,000.00", "0.00", "due"],
    ]
    assert not chrome.find_elements(By.NAME, "_save")
    chrome.execute_script("document.getElementById('installments-group').scrollIntoView();")
    chrome.save_screenshot(str(tmp_path / "3-paid-instalment.png"))
    assert (tmp_path / "3-paid-instalment.png").stat().st_size > 0
