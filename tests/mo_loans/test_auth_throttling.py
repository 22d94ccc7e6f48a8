"""Repeated authentication failures from one address are throttled: API keys and the admin login."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _three_failures_a_minute(settings):
    settings.AUTH_FAILURE_RATE = "3/min"


def keyed(key: str, **extra) -> APIClient:
    api = APIClient(**extra)
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api


def test_failed_keys_from_one_address_become_a_json_429(api_key):
    guesser = keyed("not-a-key")
    for _ in range(3):
        assert guesser.get("/api/customers").status_code == 401
    response = guesser.get("/api/customers")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert int(response["Retry-After"]) > 0
    # Locked out means locked out: the right key from that address is refused too.
    assert keyed(api_key).get("/api/customers").status_code == 429
    assert keyed(api_key).post("/api/customers", {}, format="json").status_code == 429


def test_another_address_is_not_affected(api_key):
    guesser = keyed("not-a-key")
    for _ in range(4):
        guesser.get("/api/customers")
    other = keyed(api_key, REMOTE_ADDR="192.0.2.7")
    assert other.get("/api/customers").status_code == 200


def test_requests_without_a_key_do_not_count(anon_client, api_key):
    for _ in range(6):
        assert anon_client.get("/api/customers").status_code == 401
    assert keyed(api_key).get("/api/customers").status_code == 200


def test_behind_a_proxy_the_forwarded_client_counts(settings, api_key):
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(4):
        keyed("bad", HTTP_X_FORWARDED_FOR="198.51.100.1").get("/api/customers")
    spoofing = keyed("bad", HTTP_X_FORWARDED_FOR="198.51.100.9, 198.51.100.1")
    assert spoofing.get("/api/customers").status_code == 429  # the left entry is the client's say
    assert (
        keyed(api_key, HTTP_X_FORWARDED_FOR="198.51.100.2").get("/api/customers").status_code == 200
    )


def test_repeated_admin_login_failures_are_throttled(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    get_user_model().objects.create_superuser("ops", "ops@example.com", "right-password")
    browser = APIClient()
    for _ in range(2):
        response = browser.post(
            "/admin/login/", {"username": "ops", "password": "wrong"}, format="multipart"
        )
        assert response.status_code == 200  # the form again, with an error
    response = browser.post(
        "/admin/login/", {"username": "ops", "password": "wrong"}, format="multipart"
    )
    assert response.status_code == 429
    response = browser.post(
        "/admin/login/", {"username": "ops", "password": "right-password"}, format="multipart"
    )
    assert response.status_code == 429


def test_the_admin_login_form_still_logs_staff_in():
    get_user_model().objects.create_superuser("ops", "ops@example.com", "right-password")
    browser = APIClient()
    response = browser.post(
        "/admin/login/?next=/admin/",
        {"username": "ops", "password": "right-password", "next": "/admin/"},
        format="multipart",
    )
    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200
