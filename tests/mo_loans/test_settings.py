from pathlib import Path

import psycopg
from django.conf import settings

from mo_loans.dbconfig import database_settings


def test_database_host_set_uses_that_server(tmp_path):
    config = database_settings(
        name="ledger",
        user="lender",
        password="s3cret",
        host="db.internal",
        port="6543",
        embedded_data_dir=tmp_path / "never-created",
    )
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["USER"], config["PASSWORD"]) == (
        "db.internal",
        "6543",
        "lender",
        "s3cret",
    )
    assert config["NAME"] == "ledger"
    assert not (tmp_path / "never-created").exists()


def test_no_database_host_starts_the_embedded_server_in_the_checkout():
    data_dir = Path(settings.BASE_DIR) / ".pgdata"
    config = database_settings(
        name="mo_loans_settings_probe",
        user="ignored",
        password="ignored",
        host="",
        port="5432",
        embedded_data_dir=data_dir,
    )
    assert (data_dir / "PG_VERSION").exists()
    # The app connects as a role that owns nothing; the superuser migrates.
    assert config["USER"] == "mo_loans_app"
    assert config["OWNER"] == {"USER": "postgres", "PASSWORD": ""}
    with psycopg.connect(host=config["HOST"], user=config["USER"], dbname=config["NAME"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("mo_loans_settings_probe",)
        assert conn.execute(
            "SELECT rolsuper, rolcreatedb FROM pg_roles WHERE rolname = current_user"
        ).fetchone() == (False, False)


def test_the_owner_credentials_are_kept_apart_from_the_apps(tmp_path):
    config = database_settings(
        name="ledger",
        user="app",
        password="app-pw",
        host="db.internal",
        port="5432",
        embedded_data_dir=tmp_path,
        owner_user="owner",
        owner_password="owner-pw",
    )
    assert (config["USER"], config["PASSWORD"]) == ("app", "app-pw")
    assert config["OWNER"] == {"USER": "owner", "PASSWORD": "owner-pw"}


def test_without_an_owner_the_app_user_migrates(tmp_path):
    config = database_settings(
        name="ledger",
        user="app",
        password="pw",
        host="db.internal",
        port="5432",
        embedded_data_dir=tmp_path,
    )
    assert config["OWNER"] == {"USER": "app", "PASSWORD": "pw"}
