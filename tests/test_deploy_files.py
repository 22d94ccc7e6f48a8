"""No Docker engine runs here, so the deployment files are checked against their schemas."""

import configparser
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_compose_file_matches_the_compose_spec():
    result = subprocess.run(
        [
            str(BIN / "check-jsonschema"),
            "--builtin-schema",
            "vendor.compose-spec",
            str(ROOT / "docker-compose.yml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_migrations_once_before_the_api():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:16")
    assert "migrate" in services["migrate"]["command"]
    assert services["api"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_dockerfile_runs_gunicorn_as_a_non_root_user_with_a_healthcheck():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    user_lines = [line for line in lines if line.startswith("USER ")]
    assert user_lines and user_lines[-1] not in {"USER root", "USER 0"}
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert any(line.startswith("CMD") and "gunicorn" in line for line in lines)


def test_compose_gives_the_owners_credentials_to_the_migration_only():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    api, migrate = services["api"]["environment"], services["migrate"]["environment"]
    assert not {"DATABASE_OWNER_USER", "DATABASE_OWNER_PASSWORD"} & set(api)
    assert migrate["DATABASE_OWNER_USER"] != migrate["DATABASE_USER"] == api["DATABASE_USER"]
    script = (ROOT / "deploy/postgres/init-roles.sh").read_text()
    assert f'OWNER="${{MO_LOANS_OWNER:-{migrate["DATABASE_OWNER_USER"]}}}"' in script
    assert f'APP="${{MO_LOANS_APP:-{api["DATABASE_USER"]}}}"' in script
    assert f'DB="${{MO_LOANS_DATABASE:-{api["DATABASE_NAME"]}}}"' in script
    mounts = services["db"]["volumes"]
    assert any(
        m.startswith("./deploy/postgres/init-roles.sh:/docker-entrypoint-initdb.d/") for m in mounts
    )


def _psql_dir() -> str:
    found = shutil.which("psql")
    if found:
        return str(Path(found).parent)
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin")


@pytest.mark.django_db
def test_the_init_script_makes_an_owner_an_app_role_and_their_database():
    from django.db import connection

    s = connection.settings_dict
    name = f"mo_loans_init_{secrets.token_hex(4)}"
    server = {
        "host": s["HOST"] or None,
        "port": s["PORT"] or None,
        "user": s["USER"],
        "password": s["PASSWORD"] or None,
    }
    env = os.environ | {
        "PATH": _psql_dir() + os.pathsep + os.environ.get("PATH", ""),
        "PGHOST": str(s["HOST"]),
        "PGPORT": str(s["PORT"] or 5432),
        "PGUSER": s["USER"],
        "PGPASSWORD": s["PASSWORD"] or "",
        "MO_LOANS_DATABASE": name,
        "MO_LOANS_OWNER": f"{name}_owner",
        "MO_LOANS_APP": f"{name}_app",
        "MO_LOANS_OWNER_PASSWORD": "owner-pw",
        "MO_LOANS_APP_PASSWORD": "app-pw",
    }
    env.pop("POSTGRES_USER", None)
    try:
        result = subprocess.run(
            ["sh", str(ROOT / "deploy/postgres/init-roles.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        with psycopg.connect(dbname="postgres", **server) as conn:
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [name]
            ).fetchone()
            assert owner == (f"{name}_owner",)
            roles = conn.execute(
                "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles"
                " WHERE rolname LIKE %s ORDER BY rolname",
                [f"{name}_%"],
            ).fetchall()
            assert roles == [
                (f"{name}_app", False, False, False),
                (f"{name}_owner", False, False, False),
            ]
            public = conn.execute(
                "SELECT has_database_privilege('public', %s, 'CONNECT')", [name]
            ).fetchone()
            assert public == (False,)
    finally:
        with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            for role in (f"{name}_app", f"{name}_owner"):
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_compose_reads_through_pgbouncer_from_a_streaming_replica():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    api, migrate = services["api"]["environment"], services["migrate"]["environment"]
    assert api["DATABASE_HOST"] == api["DATABASE_REPLICA_HOST"] == "pgbouncer"
    assert (api["DATABASE_CONN_MAX_AGE"], api["DATABASE_DISABLE_SERVER_SIDE_CURSORS"]) == (
        "0",
        "True",
    )
    assert migrate["DATABASE_HOST"] == "db"  # migrations go straight to the primary
    replica_start = "\n".join(services["db-replica"]["command"])
    assert "pg_basebackup --host=db" in replica_start and "--write-recovery-conf" in replica_start
    assert any("init-replication.sh" in mount for mount in services["db"]["volumes"])
    ini = configparser.ConfigParser()
    ini.read(ROOT / "deploy/pgbouncer/pgbouncer.ini")
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    assert "options" in ini["pgbouncer"]["ignore_startup_parameters"]
    pools = dict(ini["databases"])
    assert "host=db " in pools[api["DATABASE_NAME"]]
    assert "host=db-replica " in pools[api["DATABASE_REPLICA_NAME"]]
    assert services["pgbouncer"]["build"] == "deploy/pgbouncer"
