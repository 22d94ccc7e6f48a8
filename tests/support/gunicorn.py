"""Start the project's gunicorn (``gunicorn.conf.py``) on 127.0.0.1, for tests and benchmarks.

One place for what ``tests/ops``, ``tests/hardening`` and ``bench/`` all need::

    with GunicornServer(env={"DATABASE_NAME": name}, workers=2) as server:
        urllib.request.urlopen(server.url + "/healthz")

The server runs in its own session, so :meth:`GunicornServer.stop` can signal
gunicorn and its workers as one group; it is stopped on leaving the block,
whatever happened inside. It imports nothing from Django.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


class GunicornError(RuntimeError):
    """gunicorn exited or did not answer in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def worker_pids(master_pid: int) -> list[int]:
    """The pids of the processes whose parent is ``master_pid`` (gunicorn's workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            # The command name may hold spaces and parentheses: split after the last ")".
            fields = stat.read_text().rpartition(")")[2].split()
            if int(fields[1]) == master_pid:
                pids.append(int(stat.parent.name))
    return sorted(pids)


def _answers(url: str, *, any_status: bool) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (localhost)
            return response.status == 200
    except urllib.error.HTTPError:
        return any_status
    except OSError:
        return False


@dataclass
class GunicornServer:
    """``gunicorn mo_loans.wsgi --config gunicorn.conf.py --bind 127.0.0.1:<port>``.

    ``env`` is added to this process's environment (it is the whole environment
    with ``inherit_env=False``). Ready once ``ready_path``
    answers 200 (any status with ``ready_any_status``: the listener is up).
    The output goes to ``log_path`` (kept), or to a temporary file removed on stop.
    """

    env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    port: int = 0
    ready_path: str = "/healthz"
    ready_any_status: bool = False
    start_timeout: float = 60.0
    log_path: Path | None = None
    inherit_env: bool = True
    process: subprocess.Popen | None = field(default=None, init=False, repr=False)
    _own_log: bool = field(default=False, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def worker_pids(self) -> list[int]:
        return worker_pids(self.pid)

    def start(self) -> GunicornServer:
        self.port = self.port or free_port()
        env = {"WEB_CONCURRENCY": str(self.workers), "LOG_LEVEL": "WARNING"}
        env = (os.environ | env if self.inherit_env else env) | self.env
        if self.log_path is None:
            fd, name = tempfile.mkstemp(prefix="gunicorn-", suffix=".log")
            os.close(fd)
            self.log_path, self._own_log = Path(name), True
        command = [str(GUNICORN), "mo_loans.wsgi", "--config", "gunicorn.conf.py"]
        command += ["--bind", f"127.0.0.1:{self.port}"]
        with self.log_path.open("w") as out:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            self.wait_for(self.url + self.ready_path, any_status=self.ready_any_status)
        except GunicornError:
            self.stop()
            raise
        return self

    def wait_for(self, url: str, *, any_status: bool = False) -> None:
        """Until ``url`` answers (200, or anything with ``any_status``); raise if gunicorn exits."""
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise GunicornError(f"gunicorn exited:\n{self.log_tail()}")
            if _answers(url, any_status=any_status):
                return
            time.sleep(0.2)
        raise GunicornError(f"gunicorn did not answer {url} in time:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the master (it stops its workers); SIGKILL to the group if it hangs."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._own_log and self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> GunicornServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
