"""Log formatting shared by Django and gunicorn: JSON lines (or plain text) with a request id.

The request id of the request being served lives in a context variable, set by
:class:`mo_loans.observability.middleware.RequestIdMiddleware`. A logging filter
copies it onto every record, so any log line written while a request is served
(by our code, Django or a library) carries it.

This module imports nothing from Django or prometheus_client: gunicorn's master
process loads it for its own log configuration before any app code exists.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

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
                "class": "logging.StreamHandler",
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
