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
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "CONN_MAX_AGE": conn_max_age,
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {"connect_timeout": 5},
        "TEST": {"NAME": f"test_{name}"},
    }
    if host:
        return base | {"USER": user, "PASSWORD": password, "HOST": host, "PORT": port}
    server = embedded_server(embedded_data_dir)
    ensure_database(server, name)
    return base | {"USER": server.user, "PASSWORD": "", "HOST": server.socket_dir, "PORT": ""}
