"""An embedded PostgreSQL for machines with no database configured.

The ``pgserver`` package ships the PostgreSQL binaries in a wheel. We start one
server per checkout, with its data in a git-ignored folder, and leave it
running (``cleanup_mode=None``) so that gunicorn workers, ``manage.py``
commands and test runs all share it. ``make db-stop`` stops it.

pgserver serialises start-up with an inter-process lock and, when run as root,
runs the server as a dedicated system user, so this works for any user.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg
from decouple import config
from psycopg import sql

SUPERUSER = "postgres"
# The role the app connects as; the superuser owns the database and migrates it.
APP_ROLE = "mo_loans_app"
# The checkout's data folder; EMBEDDED_DB_DIR (relative to the checkout) moves it.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / config(
    "EMBEDDED_DB_DIR", default=".pgdata"
)


@dataclass(frozen=True)
class EmbeddedServer:
    socket_dir: str
    user: str = SUPERUSER


def embedded_server(data_dir: Path) -> EmbeddedServer:
    """Start (or join) the embedded server whose data lives in ``data_dir``."""
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        import pgserver  # lazily: a deployment with DATABASE_HOST never needs it

    data_dir.parent.mkdir(parents=True, exist_ok=True)
    changed = write_server_settings(data_dir)
    server = pgserver.get_server(data_dir, cleanup_mode=None)
    changed = write_server_settings(data_dir) or changed  # a new folder has them only now
    if changed:  # the running server reloads what it can
        with psycopg.connect(
            host=str(server.get_postmaster_info().socket_dir), user=SUPERUSER, dbname="postgres"
        ) as conn:
            conn.execute("SELECT pg_reload_conf()")
    return EmbeddedServer(socket_dir=str(server.get_postmaster_info().socket_dir))


# --- server settings (issue 14, HTTP speed) ---------------------------------------------
# Sized for the development machine this runs on (2 cores, ~24 GB, an SSD, a few
# checkouts each with its own server): memory for hot pages and sorts, WAL that is
# flushed in large writes and checkpointed every 15 minutes rather than every few
# seconds under a benchmark's writes. synchronous_commit stays on (the default): a
# commit the API answered is on disk. Written to .pgdata/mo_loans.conf, included from
# postgresql.conf; shared_buffers and wal_buffers take effect at the server's next
# start (`make db-stop`), the others at once. docs/performance.md says why.
SERVER_SETTINGS = {
    "shared_buffers": "512MB",
    "effective_cache_size": "4GB",
    # work_mem: every app connection sets its own (DATABASE_WORK_MEM_MB, mo_loans/dbconfig.py).
    "maintenance_work_mem": "256MB",
    "wal_buffers": "16MB",
    "max_wal_size": "4GB",
    "min_wal_size": "512MB",
    "checkpoint_timeout": "15min",
    "checkpoint_completion_target": "0.9",
    "random_page_cost": "1.1",
}
SETTINGS_FILE = "mo_loans.conf"


def write_server_settings(data_dir: Path) -> bool:
    """Write :data:`SERVER_SETTINGS` for the server in ``data_dir``; True when it changed.

    Nothing to do before ``initdb`` made the folder (the next call writes them).
    """
    conf = data_dir / "postgresql.conf"
    if not conf.exists():
        return False
    include = f"include_if_exists = '{SETTINGS_FILE}'"
    if include not in conf.read_text():
        with conf.open("a") as out:
            out.write(f"\n# MO Loans (mo_loans/embedded_db.py)\n{include}\n")
    text = "".join(f"{name} = '{value}'\n" for name, value in SERVER_SETTINGS.items())
    target = data_dir / SETTINGS_FILE
    if target.exists() and target.read_text() == text:
        return False
    target.write_text(text)
    target.chmod(0o644)
    return True


def ensure_database(server: EmbeddedServer, name: str) -> None:
    """Create the app's role and database ``name`` on the embedded server unless they exist."""
    with psycopg.connect(
        host=server.socket_dir, user=server.user, dbname="postgres", autocommit=True
    ) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone():
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(
                    sql.SQL(
                        "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                    ).format(sql.Identifier(APP_ROLE))
                )
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            # Another process may create it between our check and our CREATE.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _quietly_import_pgserver():
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset and falls back to /tmp: fine here.
        warnings.simplefilter("ignore")
        from pgserver._commands import pg_ctl
        from pgserver.utils import PostmasterInfo
    return pg_ctl, PostmasterInfo


def embedded_stop(data_dir: Path | None = None) -> str:
    """Stop this checkout's embedded server if it runs; say what was done (``make db-stop``)."""
    data_dir = data_dir or DEFAULT_DATA_DIR
    pg_ctl, postmaster_info = _quietly_import_pgserver()
    info = postmaster_info.read_from_pgdata(data_dir) if data_dir.is_dir() else None
    if info is None or not info.is_running():
        return f"The embedded PostgreSQL in {data_dir} is not running; nothing to stop."
    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(["-w", "stop", "-m", "fast"], pgdata=data_dir, user=user)
    return f"Stopped the embedded PostgreSQL in {data_dir} (pid {info.pid})."


if __name__ == "__main__":  # python -m mo_loans.embedded_db stop
    import sys

    if sys.argv[1:] != ["stop"]:
        sys.exit("usage: python -m mo_loans.embedded_db stop")
    print(embedded_stop())
