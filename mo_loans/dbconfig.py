"""Build Django's ``DATABASES`` entry from settings values.

With ``DATABASE_HOST`` set we use that server; without it, the embedded
PostgreSQL of this checkout (see :mod:`mo_loans.embedded_db`).

``USER`` is the app's role, which owns nothing; ``OWNER`` (our own key, which
Django ignores) holds the credentials ``manage.py migrate`` uses
(:mod:`mo_loans.dbroles`). On the embedded server the app connects as
``mo_loans_app`` and the server's superuser migrates, as in production.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from mo_loans.embedded_db import APP_ROLE, embedded_server, ensure_database


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
    work_mem_mb: int | None = None,
    owner_user: str = "",
    owner_password: str = "",
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
                work_mem_mb=work_mem_mb,
            ),
        },
        "TEST": {"NAME": f"test_{name}"},
    }
    if host:
        owner = {"USER": owner_user or user, "PASSWORD": owner_password if owner_user else password}
        return base | {
            "USER": user,
            "PASSWORD": password,
            "HOST": host,
            "PORT": port,
            "OWNER": owner,
        }
    server = embedded_server(embedded_data_dir)
    ensure_database(server, name)
    return base | {
        "USER": APP_ROLE,
        "PASSWORD": "",
        "HOST": server.socket_dir,
        "PORT": "",
        "OWNER": {"USER": server.user, "PASSWORD": ""},
    }


def replica_settings(
    primary: dict[str, Any],
    *,
    host: str,
    port: str,
    name: str | None = None,
    user: str,
    password: str,
    connect_timeout: int = 2,
) -> dict[str, Any]:
    """The ``replica`` alias: ``primary``'s settings, on the streaming replica's server.

    The same database name and session options; no owner (nothing migrates a
    replica) and a short connect timeout, so that a replica that is down costs a
    request little before its reads go to the primary (:mod:`mo_loans.db_router`).
    In tests it mirrors ``default``: no second test database is created, and
    the alias reads the test database on the replica's server.
    """
    replica = copy.deepcopy(primary)
    replica.pop("OWNER", None)
    replica["OPTIONS"]["connect_timeout"] = connect_timeout
    return replica | {
        "NAME": name or primary["NAME"],
        "HOST": host,
        "PORT": port,
        "USER": user,
        "PASSWORD": password,
        "TEST": {"MIRROR": "default"},
    }


def session_options(
    *,
    lock_timeout_ms: int,
    statement_timeout_ms: int,
    client_check_interval_ms: int,
    work_mem_mb: int | None = None,
) -> str:
    """libpq ``options``: server settings every connection of the app starts with (0 = off).

    * ``lock_timeout``: a statement waiting longer than this for a row lock
      fails (the API answers 503, ``Retry-After``) instead of queueing for minutes.
    * ``statement_timeout``: the same for a statement running too long.
    * ``client_connection_check_interval``: while a statement runs or waits, the
      server checks this often that the client is still there, so the work (and
      the locks, the idempotency key's among them) of a killed worker is
      dropped at once, not when the statement ends.
    * ``work_mem``: memory a sort or hash may take before it spills to disk. The
      portfolio's statements hash a row per loan (what later payments gave each
      one, the delinquent customers): PostgreSQL's 4 MB would send them to disk
      from about 100,000 loans on.
    """
    values = {
        "lock_timeout": lock_timeout_ms,
        "statement_timeout": statement_timeout_ms,
        "client_connection_check_interval": client_check_interval_ms,
    }
    options = [f"-c {name}={int(value)}" for name, value in values.items()]
    if work_mem_mb is not None:  # None: the server's own setting
        options.append(f"-c work_mem={int(work_mem_mb)}MB")
    return " ".join(options)
