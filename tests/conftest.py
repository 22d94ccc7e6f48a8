import pytest
from django.core.cache import cache
from django.db import connection, connections
from psycopg import sql
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from mo_loans.api.api_keys import forget_verified_keys
from mo_loans.dbroles import owner_credentials


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """The suite creates, migrates and flushes its test database as the database owner.

    Creating a database needs CREATEDB and a test's flush needs TRUNCATE: the app
    role has neither, by design. tests/mo_loans/test_db_roles.py connects as the
    app role (kept under ``APP``) and shows what it may and may not do.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    db["APP"] = {"USER": db["USER"], "PASSWORD": db["PASSWORD"]}
    owner = owner_credentials(db)
    if owner:
        db.update(owner)
        connections["default"].close()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database lets a test's flush TRUNCATE the ledger (payments 0051)."""
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL("ALTER DATABASE {} SET mo_loans.allow_ledger_truncate = 'on'")
                .format(sql.Identifier(connection.settings_dict["NAME"]))
                .as_string(connection.connection)
            )
        connection.close()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Failed-key counts (mo_loans.api.throttling) and verified keys (mo_loans.api.api_keys)
    never carry from one test to the next."""
    cache.clear()
    forget_verified_keys()
    yield
    cache.clear()
    forget_verified_keys()


@pytest.fixture(autouse=True)
def _api_keys_checked_every_call(settings):
    """Every API key check queries the database, so query counts never depend on what an
    earlier request verified; tests/mo_loans/test_api_key_cache.py turns the cache on."""
    settings.API_KEY_CACHE_SECONDS = 0


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
