"""/api/docs/ and /api/redoc/ render in a browser with nothing fetched from elsewhere."""

import pytest

from tests.browser.conftest import wait

pytestmark = pytest.mark.django_db(transaction=True)

RESOURCES = "return performance.getEntriesByType('resource').map(e => e.name);"


def _only_local(driver, base: str) -> list[str]:
    """What the page requested; anything elsewhere must have been blocked by the page's CSP."""
    urls = driver.execute_script(RESOURCES)
    assert urls, "the page loaded no resources"
    blocked = " ".join(
        entry["message"]
        for entry in driver.get_log("browser")
        if "violates the following Content Security Policy" in entry["message"]
    )
    elsewhere = [url for url in urls if not url.startswith((base, "data:"))]
    assert [url for url in elsewhere if f"'{url}'" not in blocked] == []
    return urls


def test_swagger_ui_lists_the_operations(chrome, live_server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    chrome.get(f"{live_server.url}/api/docs/")
    wait(chrome).until(ec.presence_of_element_located((By.CSS_SELECTOR, ".opblock-summary-path")))
    paths = {e.text for e in chrome.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
    assert {"/api/customers", "/api/loans", "/api/payments"} <= {p.strip() for p in paths}
    assert chrome.find_elements(By.CSS_SELECTOR, ".btn.authorize")
    urls = _only_local(chrome, live_server.url)
    assert any(url.endswith("swagger-ui-bundle.js") for url in urls)
    assert any("/api/schema" in url for url in urls)
    chrome.save_screenshot(str(tmp_path / "swagger-ui.png"))


def test_redoc_renders_the_operations(chrome, live_server, tmp_path):
    from selenium.webdriver.common.by import By

    chrome.get(f"{live_server.url}/api/redoc/")
    wait(chrome).until(
        lambda d: "List customers" in [h.text for h in d.find_elements(By.CSS_SELECTOR, "h2")]
    )
    _only_local(chrome, live_server.url)
    chrome.save_screenshot(str(tmp_path / "redoc.png"))
