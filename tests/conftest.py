import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Failed-key counts (mo_loans.api.throttling) never carry from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_key(db) -> str:
    _, key = APIKey.objects.create_key(name="tests")
    return key


@pytest.fixture
def anon_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client(api_key) -> APIClient:
    """An API client that sends a valid ``Authorization: Api-Key`` header."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key}")
    return api
