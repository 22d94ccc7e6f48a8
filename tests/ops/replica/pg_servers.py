"""A streaming replica and a PgBouncer, started for a test run and stopped after it.

The replica is a ``pg_basebackup -R`` copy of the primary the tests use: the
embedded server (its own binaries, from the pgserver wheel) or, with
``DATABASE_HOST`` set, that server (the system's binaries of its major version).
It runs as a second postmaster on a free port of 127.0.0.1. As root, both run as
the user the primary's files belong to (pgserver's, or ``postgres``): PostgreSQL
and PgBouncer refuse to run as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

SYSTEM_BINARIES = Path("/usr/lib/postgresql")
PGBOUNCER = Path(os.environ.get("PGBOUNCER", "/usr/sbin/pgbouncer"))


class Unavailable(Exception):
    """This machine cannot run the server (the reason is the message): its tests skip."""


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL server answers, and who may connect to it as superuser."""

    host: str
    port: int
    user: str
    password: str = ""

    def connect(self, dbname: str = "postgres", **kwargs) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password or None,
            dbname=dbname,
            autocommit=True,
            **kwargs,
        )


def primary_of(settings_dict: dict) -> Server:
    """The server Django's ``default`` alias talks to (the tests connect as its owner)."""
    return Server(
        host=settings_dict["HOST"] or "127.0.0.1",
        port=int(settings_dict["PORT"] or 5432),
        user=settings_dict["USER"],
        password=settings_dict["PASSWORD"] or "",
    )


def embedded(settings_dict: dict) -> bool:
    return str(settings_dict["HOST"]).startswith("/")


def binaries(server: Server, *, is_embedded: bool) -> Path:
    if is_embedded:
        from pgserver._commands import POSTGRES_BIN_PATH

        return POSTGRES_BIN_PATH
    with server.connect() as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
    found = SYSTEM_BINARIES / str(major) / "bin"
    if not (found / "pg_basebackup").exists():
        raise Unavailable(f"no PostgreSQL {major} binaries in {found} for a replica")
    return found


def run_as(server: Server, *, is_embedded: bool) -> str | None:
    """The system user a postmaster (and PgBouncer) runs as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    return "pgserver" if is_embedded else "postgres"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, timeout: float = 30, process: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise Unavailable(f"exited with status {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise Unavailable(f"nothing listens on port {port} after {timeout} s")


def _workdir(user: str | None, prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    return base


class Standby:
    """A hot standby of ``primary``, streaming from it; :meth:`destroy` stops it for good."""

    def __init__(self, primary: Server, *, bindir: Path, user: str | None) -> None:
        self.primary = primary
        self.bindir = bindir
        self.user = user
        self.base = _workdir(user, "mo-loans-replica-")
        self.data = self.base / "data"
        self.port = free_port()
        self.server = Server(host="127.0.0.1", port=self.port, user=primary.user)
        try:
            self._base_backup()
        except BaseException:
            shutil.rmtree(self.base, ignore_errors=True)
            raise

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        # Files, not pipes: the postmaster pg_ctl starts would hold a pipe open.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            result = subprocess.run(
                [str(self.bindir / args[0]), *args[1:]],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                text=True,
                check=False,
                timeout=timeout,
                user=self.user,
                cwd=self.base,
                env=os.environ | {"PGPASSWORD": self.primary.password},
            )
            out.seek(0)
            err.seek(0)
            result.stdout, result.stderr = out.read(), err.read()
        return result

    def _base_backup(self) -> None:
        result = self._run(
            "pg_basebackup",
            f"--pgdata={self.data}",
            f"--host={self.primary.host}",
            f"--port={self.primary.port}",
            f"--username={self.primary.user}",
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-password",
        )
        if result.returncode != 0:
            reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
            if "pg_hba.conf" in reason or "replication" in reason:
                raise Unavailable(
                    f"{self.primary.host}:{self.primary.port} does not allow replication "
                    f"connections ({reason})"
                )
            raise RuntimeError(f"pg_basebackup failed: {result.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c hot_standby=on"
        result = self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.base / "log"), "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        if result.returncode != 0:
            log = (self.base / "log").read_text() if (self.base / "log").exists() else ""
            raise RuntimeError(f"the replica did not start: {result.stderr}\n{log}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    @property
    def running(self) -> bool:
        return self._run("pg_ctl", "-D", str(self.data), "status").returncode == 0

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def pause_replay(self) -> None:
        with self.server.connect() as conn:
            conn.execute("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        with self.server.connect() as conn:
            conn.execute("SELECT pg_wal_replay_resume()")

    def wait_caught_up(self, timeout: float = 60) -> None:
        """Until the replica has replayed all the WAL the primary has flushed now."""
        with self.primary.connect() as conn:
            (target,) = conn.execute("SELECT pg_current_wal_flush_lsn()").fetchone()
        deadline = time.monotonic() + timeout
        with self.server.connect() as conn:
            while time.monotonic() < deadline:
                query = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
                if conn.execute(query, [str(target)]).fetchone()[0]:
                    return
                time.sleep(0.05)
        raise AssertionError(f"the replica did not replay up to {target} in {timeout} s")


class PgBouncer:
    """PgBouncer in transaction mode on a free port, one pool per ``databases`` entry.

    ``databases``: name -> (server, database on it). A small pool, so that more
    clients than server connections share them, transaction by transaction.
    """

    def __init__(
        self, databases: dict[str, tuple[Server, str]], *, users: list[str], user: str | None
    ) -> None:
        if not PGBOUNCER.exists():
            raise Unavailable(f"{PGBOUNCER} is not installed (make system-deps installs it)")
        self.user = user
        self.base = _workdir(user, "mo-loans-pgbouncer-")
        self.port = free_port()
        self.admin_user = users[0]
        entries = "\n".join(
            f"{name} = host={server.host} port={server.port} dbname={dbname}"
            for name, (server, dbname) in databases.items()
        )
        (self.base / "users.txt").write_text("".join(f'"{u}" ""\n' for u in users))
        (self.base / "pgbouncer.ini").write_text(
            f"""[databases]
{entries}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.base / "users.txt"}
admin_users = {self.admin_user}
pool_mode = transaction
default_pool_size = 2
max_client_conn = 200
; libpq "options" (the app's session time limits) is not passed on: docs/operations.md
ignore_startup_parameters = options,extra_float_digits
logfile = {self.base / "pgbouncer.log"}
"""
        )
        if user is not None:
            entry = pwd.getpwnam(user)
            for path in self.base.iterdir():
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.process = subprocess.Popen(
            [str(PGBOUNCER), "-q", str(self.base / "pgbouncer.ini")],
            user=user,
            cwd=self.base,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for_port(self.port, process=self.process)
        except BaseException:
            self.destroy()
            raise

    def show(self, what: str) -> list[dict]:
        """A ``SHOW …`` of PgBouncer's admin console, as one dict per row."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=self.admin_user,
            dbname="pgbouncer",
            autocommit=True,
            prepare_threshold=None,
        ) as conn:
            cursor = conn.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def destroy(self) -> None:
        try:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)
