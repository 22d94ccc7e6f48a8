"""A worker remembers verified API keys for API_KEY_CACHE_SECONDS (mo_loans.api.api_keys)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from mo_loans.api import api_keys

pytestmark = pytest.mark.django_db


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(api_keys.time, "monotonic", clock)
    return clock


@pytest.fixture
def keyed():
    api_key, key = APIKey.objects.create_key(name="cached")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return api_key, client


def key_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/customers").status_code == 200
    return sum("rest_framework_api_key" in q["sql"] for q in queries.captured_queries)


def test_a_verified_key_is_looked_up_once_per_lifetime(keyed, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 10
    _, client = keyed
    assert key_queries(client) == 1
    assert key_queries(client) == 0
    clock.now += 10
    assert key_queries(client) == 1


def test_revocation_elsewhere_takes_effect_within_the_lifetime(keyed, clock, settings):
    settings.API_KEY_CACHE_SECONDS = 10
    api_key, client = keyed
    assert client.get("/api/customers").status_code == 200
    # Revoked by another process (no signal here): this worker still remembers it ...
    APIKey.objects.filter(pk=api_key.pk).update(revoked=True)
    clock.now += 9.9
    assert client.get("/api/customers").status_code == 200
    # ... until its lifetime is over.
    clock.now += 0.1
    assert client.get("/api/customers").status_code == 401
    assert client.get("/api/customers").status_code == 401


def test_revocation_in_this_process_takes_effect_at_once(keyed, settings):
    settings.API_KEY_CACHE_SECONDS = 3600
    api_key, client = keyed
    assert client.get("/api/customers").status_code == 200
    api_key.revoked = True
    api_key.save()
    assert client.get("/api/customers").status_code == 401


def test_an_expiry_date_is_honoured_to_the_instant(keyed, settings):
    settings.API_KEY_CACHE_SECONDS = 3600
    api_key, client = keyed
    soon = timezone.now() + timedelta(hours=1)
    APIKey.objects.filter(pk=api_key.pk).update(expiry_date=soon)
    api_keys.forget_verified_keys()
    assert client.get("/api/customers").status_code == 200
    APIKey.objects.filter(pk=api_key.pk).update(expiry_date=timezone.now() - timedelta(seconds=1))
    assert client.get("/api/customers").status_code == 200  # remembered expiry: still ahead
    api_keys._verified.update(
        {
            d: (until, timezone.now() - timedelta(seconds=1))
            for d, (until, _) in api_keys._verified.items()
        }
    )
    assert client.get("/api/customers").status_code == 401


def test_a_wrong_key_is_never_remembered(clock, settings):
    settings.API_KEY_CACHE_SECONDS = 10
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Api-Key abcdefgh.not-the-secret")
    for _ in range(2):
        assert client.get("/api/customers").status_code == 401
    assert api_keys._verified == {}


def test_zero_turns_the_cache_off(keyed, settings):
    settings.API_KEY_CACHE_SECONDS = 0
    api_key, client = keyed
    assert key_queries(client) == 1
    assert key_queries(client) == 1
    APIKey.objects.filter(pk=api_key.pk).update(revoked=True)
    assert client.get("/api/customers").status_code == 401
