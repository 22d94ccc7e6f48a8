"""Build Django's ``DATABASES`` entry from settings values.

With ``DATABASE_HOST`` set we use that server; without it, the embedded
PostgreSQL of this checkout (see :mod:`mo_loans.embedded_db`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mo_loans.embedded_db import embedded_server, ensure_database


def database_settings(
    *,
    name: str,
    user: str,
    password: str,
    host: str,
    port: str,
    embedded_data_dir: Path,
    conn_max_age: int = 60,
    lock_timeout_ms: int = 5000,
    statement_timeout_ms: int = 30000,
    client_check_interval_ms: int = 1000,
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "CONN_MAX_AGE": conn_max_age,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            "connect_timeout": 5,
            "options": session_options(
                lock_timeout_ms=lock_timeout_ms,
                statement_timeout_ms=statement_timeout_ms,
                client_check_interval_ms=client_check_interval_ms,
            ),
        },
        "TEST": {"NAME": f"test_{name}"},
    }
    if host:
        return base | {"USER": user, "PASSWORD": password, "HOST": host, "PORT": port}
    server = embedded_server(embedded_data_dir)
    ensure_database(server, name)
    return base | {"USER": server.user, "PASSWORD": "", "HOST": server.socket_dir, "PORT": ""}


def session_options(
    *, lock_timeout_ms: int, statement_timeout_ms: int, client_check_interval_ms: int
) -> str:
    """libpq ``options``: server settings every connection of the app starts with (0 = off).

    * ``lock_timeout``: a statement waiting longer than this for a row lock
      fails (the API answers 503, ``Retry-After``) instead of queueing for minutes.
    * ``statement_timeout``: the same for a statement running too long.
    * ``client_connection_check_interval``: while a statement runs or waits, the
      server checks this often that the client is still there, so the work (and
      the locks, the idempotency key's among them) of a killed worker is
      dropped at once, not when the statement ends.
    """
    values = {
        "lock_timeout": lock_timeout_ms,
        "statement_timeout": statement_timeout_ms,
        "client_connection_check_interval": client_check_interval_ms,
    }
    return " ".join(f"-c {name}={int(value)}" for name, value in values.items())
