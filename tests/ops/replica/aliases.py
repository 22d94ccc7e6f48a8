"""The ``replica`` alias, added and removed while the suite runs."""

from __future__ import annotations

from django.db import connections
from django.db.utils import ConnectionHandler

from mo_loans.db_router import REPLICA, health
from mo_loans.dbconfig import replica_settings


def add_replica_alias(*, host: str, port: int, name: str | None = None) -> None:
    """Add the ``replica`` alias as settings.py would with DATABASE_REPLICA_HOST set."""
    primary = connections["default"].settings_dict
    # The primary's credentials, as DATABASE_REPLICA_USER defaults to (the suite's: the owner).
    replica = replica_settings(
        primary, host=host, port=str(port), user=primary["USER"], password=primary["PASSWORD"]
    )
    replica["NAME"] = name or primary["NAME"]  # what TEST MIRROR does: the test database
    configured = ConnectionHandler().configure_settings({"default": primary, REPLICA: replica})
    connections.settings[REPLICA] = configured[REPLICA]
    health.clear()


def remove_replica_alias() -> None:
    if REPLICA in connections.settings:
        connections[REPLICA].close()
        del connections[REPLICA]
        del connections.settings[REPLICA]
    health.clear()


def point_at(alias: str, *, port: int, name: str) -> dict:
    """Make ``alias`` connect through PgBouncer; returns what to restore."""
    settings_dict = connections[alias].settings_dict
    keys = ("HOST", "PORT", "NAME", "CONN_MAX_AGE", "DISABLE_SERVER_SIDE_CURSORS")
    saved = {key: settings_dict[key] for key in keys}
    connections[alias].close()
    # As docs/operations.md says behind PgBouncer: no persistent connections, no
    # server-side cursors (prepared statements are off in Django's psycopg 3 anyway).
    settings_dict.update(
        HOST="127.0.0.1",
        PORT=str(port),
        NAME=name,
        CONN_MAX_AGE=0,
        DISABLE_SERVER_SIDE_CURSORS=True,
    )
    return saved


def restore(alias: str, saved: dict) -> None:
    connections[alias].close()
    connections[alias].settings_dict.update(saved)
