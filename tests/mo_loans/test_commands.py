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


def test_db_stop_says_what_it_did_without_warnings(tmp_path):
    """``make db-stop`` runs this; a folder with no running server is reported as such."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "mo_loans.embedded_db", "stop"],
        capture_output=True,
        text=True,
        cwd=checkout,
        env={**os.environ, "EMBEDDED_DB_DIR": str(tmp_path / "none")},
        check=True,
    )
    assert result.stdout == (
        f"The embedded PostgreSQL in {tmp_path / 'none'} is not running; nothing to stop.\n"
    )
    assert result.stderr == ""
