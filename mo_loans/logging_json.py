"""Log formatting shared by Django and gunicorn: JSON lines (or plain text) with a request id.

The request id of the request being served lives in a context variable, set by
:class:`mo_loans.observability.middleware.RequestIdMiddleware`. A logging filter
copies it onto every record, so any log line written while a request is served
(by our code, Django or a library) carries it.

This module imports nothing from Django or prometheus_client: gunicorn's master
process loads it for its own log configuration before any app code exists.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import os
import queue
import threading
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")

NO_REQUEST = "-"


def current_request_id() -> str:
    """The id of the request being served, or ``""`` outside a request."""
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Put ``request_id`` on every record (``"-"`` outside a request) without dropping any."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get() or NO_REQUEST
        return True


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``, ``request_id``.

    Anything passed as ``extra={...}`` is added as top-level keys. Values that
    JSON cannot hold (``Decimal``, dates, UUIDs) are written with ``str()``, so
    money keeps its exact digits.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s %(request_id)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        kwargs.setdefault("json_default", str)
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict):
        super().add_fields(log_data, record, message_dict)
        if "request_id" not in log_data or log_data["request_id"] is None:
            log_data["request_id"] = request_id_var.get() or NO_REQUEST


class BackgroundStreamHandler(logging.Handler):
    """A ``StreamHandler`` whose writes happen in one thread of their own.

    A request thread only puts its record on a queue (no lock, no system call);
    the writer thread formats and writes the lines, one at a time, in order.
    With a plain ``StreamHandler`` every thread of a worker takes the same lock
    to write and flush its line, and at a few thousand requests a second that
    lock was a fifth of a ping's time (docs/performance.md).

    Each process starts its own writer on its first record (gunicorn forks its
    workers after the configuration is loaded), and writes out what is queued
    before it exits; :meth:`flush` waits until everything queued so far is
    written. A record is queued with its message already merged (as
    ``logging.handlers.QueueHandler`` does), so later changes to its arguments
    cannot change the line.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.target = logging.StreamHandler(stream)
        self._pid: int | None = None
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._start_lock = threading.Lock()

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        self.target.setFormatter(fmt)

    def handle(self, record: logging.LogRecord) -> bool:
        # logging.Handler.handle takes the handler's lock around emit(); a queue needs none.
        accepted = self.filter(record)
        if accepted:
            self.emit(record)
        return bool(accepted)

    def emit(self, record: logging.LogRecord) -> None:
        if self._pid != os.getpid():
            self._start()
        record.message = record.getMessage()
        record.msg, record.args = record.message, None
        self._queue.put(record)

    def flush(self) -> None:
        """Wait until every record queued so far has been written."""
        if self._pid != os.getpid():
            return
        written = threading.Event()
        self._queue.put(written)
        written.wait(timeout=5)

    def close(self) -> None:
        if self._pid == os.getpid():
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._pid = None
        super().close()

    def _start(self) -> None:
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # A forked child: the parent's queue and writer are not ours.
            self._queue = queue.SimpleQueue()
            self._thread = threading.Thread(target=self._write, name="log-writer", daemon=True)
            self._thread.start()
            self._pid = os.getpid()
            atexit.register(self.close)

    def _write(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if isinstance(item, threading.Event):
                self.target.flush()
                item.set()
                continue
            self.target.handle(item)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"

LOG_FORMATS = ("json", "text")


def logging_config(*, level: str, log_format: str) -> dict[str, Any]:
    """Django's ``LOGGING`` dict: everything to stdout through one handler."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {LOG_FORMATS}, not {log_format!r}")
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "mo_loans.logging_json.RequestIdFilter"}},
        "formatters": {
            "json": {"()": "mo_loans.logging_json.JsonFormatter"},
            "text": {"format": TEXT_FORMAT},
        },
        "handlers": {
            "console": {
                "()": "mo_loans.logging_json.BackgroundStreamHandler",
                "stream": "ext://sys.stdout",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "pgserver": {"level": "WARNING"},
            # Our per-request line replaces Django's "Not Found: /x" warnings.
            "django.request": {"level": "ERROR"},
            # runserver's own access line duplicates ours.
            "django.server": {"level": "WARNING"},
        },
    }
