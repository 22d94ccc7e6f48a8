"""A malformed Authorization header is told what the header must look like."""

import pytest
from rest_framework_api_key.models import APIKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def key(db) -> str:
    return APIKey.objects.create_key(name="header-tests")[1]


def _refusal(anon_client, header: str) -> dict:
    anon_client.credentials(HTTP_AUTHORIZATION=header)
    response = anon_client.get("/api/customers")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    return response.json()


def test_a_key_without_the_prefix_is_told_the_header_format(anon_client, key):
    body = _refusal(anon_client, key)
    assert body["code"] == "invalid_authorization_header"
    assert "`Api-Key <key>`" in body["message"]
    assert "no `Api-Key ` prefix" in body["message"]
    assert key not in body["message"]


def test_a_bearer_token_is_told_the_header_format(anon_client, key):
    body = _refusal(anon_client, f"Bearer {key}")
    assert body["code"] == "invalid_authorization_header"
    assert "`Api-Key <key>`" in body["message"]
    assert "not a `Bearer` credential" in body["message"]
    assert key not in body["message"]


def test_the_prefix_without_a_key_is_told_the_key_is_missing(anon_client):
    body = _refusal(anon_client, "Api-Key ")
    assert body["code"] == "invalid_authorization_header"
    assert "the key is missing" in body["message"]


def test_no_header_or_an_unknown_key_names_the_header_too(anon_client):
    for header in (None, "Api-Key not.a-key"):
        if header:
            anon_client.credentials(HTTP_AUTHORIZATION=header)
        response = anon_client.get("/api/loans")
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "not_authenticated"
        assert "`Authorization: Api-Key <key>`" in body["message"]


def test_the_keyword_is_case_insensitive_as_before(anon_client, key):
    anon_client.credentials(HTTP_AUTHORIZATION=f"api-key {key}")
    assert anon_client.get("/api/customers").status_code == 200


def test_docs_and_health_ignore_the_header(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Bearer whatever")
    assert anon_client.get("/api/schema").status_code == 200
    assert anon_client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/customers", "/api/nothing", "/healthz", "/readyz", "/nowhere"]
)
def test_json_bodies_end_with_a_newline(client, path):
    response = client.get(path)
    assert response["Content-Type"].startswith("application/json")
    assert response.content.endswith(b"}\n")
