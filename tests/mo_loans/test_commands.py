from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework_api_key.models import APIKey

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_a_working_key_last(anon_client):
    out = StringIO()
    call_command("create_api_key", "ops", stdout=out, stderr=StringIO())
    key = out.getvalue().strip().splitlines()[-1]
    assert APIKey.objects.get_from_key(key).name == "ops"
    anon_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert anon_client.get("/api/customers").status_code == 200
