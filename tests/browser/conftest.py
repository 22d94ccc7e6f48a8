"""Browser tests: a headless Debian chromium driven by selenium (minimal local version).

``chrome`` is a selenium WebDriver on ``/usr/bin/chromium`` with Debian's
``chromedriver``; where either is missing the test is skipped with the reason.
``admin_login`` signs a staff user in through the admin's own login form.
"""

from __future__ import annotations

import shutil

import pytest

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver",)


def _which(names):
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture
def chrome():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    browser, driver_path = _which(CHROMIUM), _which(DRIVERS)
    if browser is None or driver_path is None:
        pytest.skip("no chromium and chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1400,2200",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        options=options, service=webdriver.ChromeService(executable_path=driver_path)
    )
    driver.implicitly_wait(5)
    try:
        yield driver
    finally:
        driver.quit()


def admin_login(driver, live_server_url: str, username: str, password: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server_url}/admin/login/")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    driver.find_element(By.ID, "user-tools")  # signed in: the admin's header shows the user
