import pytest
from django.db import connection
from rest_framework_api_key.models import APIKey

pytestmark = pytest.mark.django_db


def assert_error(response, status, code=None):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    if code:
        assert body["code"] == code
    return body


def test_missing_key_is_refused_with_json(anon_client):
    assert_error(anon_client.get("/api/customers"), 401, "not_authenticated")


def test_wrong_key_is_refused(anon_client):
    anon_client.credentials(HTTP_AUTHORIZATION="Api-Key not.a-key")
    assert_error(anon_client.get("/api/customers"), 401, "not_authenticated")


def test_revoked_key_is_refused(anon_client):
    api_key, key = APIKey.objects.create_key(name="old")
    api_key.revoked = True
    api_key.save()
    anon_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert_error(anon_client.get("/api/customers"), 401, "not_authenticated")


def test_valid_key_passes(client):
    assert client.get("/api/customers").status_code == 200


def test_schema_and_docs_need_no_key(anon_client):
    assert anon_client.get("/api/schema/").status_code == 200
    assert anon_client.get("/api/docs").status_code == 200


def test_healthz_and_readyz_need_no_key(anon_client):
    assert anon_client.get("/healthz").json() == {"status": "ok"}
    assert anon_client.get("/readyz").json() == {"status": "ready"}


def test_readyz_is_503_when_database_is_unreachable(anon_client, settings, monkeypatch):
    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    body = assert_error(anon_client.get("/readyz"), 503, "database_unavailable")
    assert "database" in body["message"].lower()


def test_unknown_api_route_is_json_404(client):
    assert_error(client.get("/api/nothing/here"), 404, "route_not_found")


def test_method_not_allowed_is_json_405(client):
    assert_error(client.delete("/api/customers"), 405, "method_not_allowed")


def test_malformed_json_is_400(client):
    response = client.post("/api/customers", "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_nan_literal_is_refused_as_malformed(client):
    body = '{"external_id": "n", "score": NaN}'
    response = client.post("/api/customers", body, content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_wrong_content_type_is_415(client):
    response = client.post("/api/customers", "external_id=a", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_json_array_where_object_expected_is_400(client):
    response = client.post("/api/customers", "[1, 2]", content_type="application/json")
    assert_error(response, 400, "invalid")


def test_trailing_slash_is_never_redirected(client):
    for path, external_id in (("/api/customers", "no-slash"), ("/api/customers/", "slash")):
        response = client.post(path, {"external_id": external_id, "score": "1"}, format="json")
        assert response.status_code == 201


def test_unmapped_integrity_error_becomes_a_4xx_not_a_500():
    from django.db import IntegrityError

    from mo_loans.api.exception_handlers import exception_handler

    response = exception_handler(IntegrityError("boom"), {})
    assert response.status_code == 409
    assert response.data["code"] == "integrity_conflict"


def _stored(kind: str):
    from decimal import Decimal

    from payments.services import payment_make
    from tests.factories import CustomerFactory, make_loan

    customer = CustomerFactory()
    if kind == "customer":
        return customer
    if kind == "loan":
        return make_loan(customer=customer, external_id="dup")
    return payment_make(
        external_id="dup", customer_external_id=customer.external_id, total_amount=Decimal("1")
    )


@pytest.mark.parametrize("kind", ["customer", "loan", "payment"])
def test_a_duplicate_the_database_refuses_is_the_constraints_own_400(kind):
    """The race a service's check cannot see: the constraint's own code and message."""
    from django.db import IntegrityError, transaction

    from mo_loans.api.exception_handlers import exception_handler

    first = _stored(kind)
    clone = type(first).objects.get(pk=first.pk)
    clone.pk = None
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        clone.save(force_insert=True)
    response = exception_handler(raised.value, {})
    message = f"A {kind} with this external_id already exists."
    assert response.status_code == 400
    assert response.data == {
        "code": "duplicate_external_id",
        "message": message,
        "fields": {"external_id": [message]},
    }


def test_the_handler_leaves_an_unknown_error_to_django():
    from mo_loans.api.exception_handlers import exception_handler

    assert exception_handler(RuntimeError("a bug"), {}) is None


def test_domain_errors_carry_no_http_status():
    from mo_loans.core import exceptions

    for error in vars(exceptions).values():
        if isinstance(error, type) and issubclass(error, Exception):
            assert not hasattr(error, "status_code"), error


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/api/schema", "/api/customers"])
def test_every_route_answers_with_or_without_a_trailing_slash(client, path):
    bare, slashed = client.get(path), client.get(path + "/")
    assert bare.status_code == slashed.status_code == 200
    assert bare.content == slashed.content


def test_root_is_a_json_index_of_links(anon_client):
    response = anon_client.get("/")
    assert response.status_code == 200
    links = response.json()["links"]
    assert links["docs"] == "/api/docs/" and links["admin"] == "/admin/"
    for url in (links["docs"], links["schema"], links["healthz"]):
        assert anon_client.get(url).status_code == 200


def test_admin_without_the_slash_leads_to_the_admin(anon_client):
    response = anon_client.get("/admin")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
