"""Browser fixtures: headless Debian chromium driven by selenium.

``make system-deps`` (run by ``make test`` and ``.ci/run``) installs Debian's
``chromium`` and ``chromium-driver``. Where they are missing or the browser
cannot start, the tests that use ``chrome`` are skipped and say why (``-rs``).

Contract, for every browser test:

* fixture ``chrome``: a selenium WebDriver on headless chromium, with a fresh
  profile under the test's ``tmp_path``;
* ``admin_login(driver, live_server_url, username, password)``: log in to the
  admin and wait for its index page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1366,900",  # a laptop screen
]
WAIT_SECONDS = 30


@pytest.fixture
def chrome(tmp_path):
    """A selenium WebDriver on headless Debian chromium; skipped, with the reason, if none."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.skip(f"no browser: {', '.join(missing)} missing (make system-deps installs them)")
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as exc:
        pytest.skip(f"selenium is not installed: {exc}")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in [*CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(argument)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    try:
        driver = webdriver.Chrome(service=service, options=options)
    except WebDriverException as exc:
        pytest.skip(f"chromium did not start: {exc.msg}")
    driver.set_page_load_timeout(WAIT_SECONDS * 2)
    try:
        yield driver
    finally:
        driver.quit()


def wait(driver):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS)


def admin_login(driver, live_server_url: str, username: str, password: str) -> None:
    """Log in to the admin through its login form and wait for the index page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{live_server_url}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#login-form [type=submit]").click()
    wait(driver).until(ec.presence_of_element_located((By.ID, "user-tools")))
