"""DATABASE_REPLICA_*: a ``replica`` alias only when set, defaulting to the primary's values."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOW = """
import json, django
django.setup()
from django.conf import settings
print(json.dumps({alias: {k: db.get(k) for k in ("HOST", "PORT", "USER", "PASSWORD", "NAME",
    "TEST", "OWNER", "ENGINE")} | {"connect_timeout": db["OPTIONS"]["connect_timeout"]}
    for alias, db in settings.DATABASES.items()} | {"routers": settings.DATABASE_ROUTERS}))
"""


def databases(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE_")}
    base |= {
        "DJANGO_SETTINGS_MODULE": "mo_loans.settings",
        "SECRET_KEY": "a-long-random-enough-key-for-this-one-settings-check-0123456789",
        # A primary that is never contacted: settings only.
        "DATABASE_HOST": "primary.invalid",
        "DATABASE_PORT": "6000",
        "DATABASE_USER": "app",
        "DATABASE_PASSWORD": "app-pw",
        "DATABASE_OWNER_USER": "owner",
    }
    result = subprocess.run(
        [sys.executable, "-c", SHOW],
        cwd=ROOT,
        env=base | env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_no_replica_alias_unless_a_replica_host_is_set():
    shown = databases()
    assert set(shown) == {"default", "routers"}
    assert shown["routers"] == ["mo_loans.db_router.ReplicaRouter"]


def test_the_replica_defaults_to_the_primarys_port_and_credentials():
    shown = databases(DATABASE_REPLICA_HOST="replica.invalid")
    primary, replica = shown["default"], shown["replica"]
    assert replica["HOST"] == "replica.invalid"
    assert (replica["PORT"], replica["USER"], replica["PASSWORD"]) == ("6000", "app", "app-pw")
    assert replica["NAME"] == primary["NAME"] and replica["ENGINE"] == primary["ENGINE"]
    # Never migrated, never a second test database: in tests it mirrors default.
    assert replica["OWNER"] is None and primary["OWNER"]["USER"] == "owner"
    assert replica["TEST"]["MIRROR"] == "default"
    assert replica["connect_timeout"] == 2


def test_every_replica_value_can_be_set():
    shown = databases(
        DATABASE_REPLICA_HOST="replica.invalid",
        DATABASE_REPLICA_PORT="6432",
        DATABASE_REPLICA_USER="reader",
        DATABASE_REPLICA_PASSWORD="reader-pw",
        DATABASE_REPLICA_CONNECT_TIMEOUT="1",
        DATABASE_REPLICA_NAME="mo_loans_replica",
    )
    replica = shown["replica"]
    assert replica["NAME"] == "mo_loans_replica"
    assert (replica["PORT"], replica["USER"], replica["PASSWORD"]) == (
        "6432",
        "reader",
        "reader-pw",
    )
    assert replica["connect_timeout"] == 1
