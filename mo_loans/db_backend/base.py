"""The project's PostgreSQL backend: django-prometheus's (every query timed), made cheaper
on two paths every request takes. ``ENGINE = "mo_loans.db_backend"``.

* **The per-request health check without a round trip.** With
  ``CONN_HEALTH_CHECKS`` Django runs ``SELECT 1`` before the first query of each
  request on a kept connection. An idle connection that is still good has nothing
  to read; one the server has closed (a restart, ``pg_terminate_backend``, an idle
  timeout) has its notice or end-of-file waiting. So the check looks at the socket
  first, without waiting, and runs Django's ``SELECT 1`` only when there is
  something to read (or psycopg already knows the connection is broken). After a
  query error Django's own full check (``is_usable``) still runs, unchanged.
* **Date-times read by the C parser.** Django reads every ``timestamptz`` through a
  Python subclass of psycopg's loader (to attach its time zone), ~1.5 µs a value;
  a page of 50 loans has 300 of them. The connection's time zone is UTC
  (Django sets it), so PostgreSQL's text is ``…+00`` and
  ``datetime.fromisoformat`` (C, ~0.1 µs) gives the same aware UTC value. Any
  other offset or form falls back to Django's loader.
"""

from __future__ import annotations

import select
from datetime import UTC, datetime

from django.conf import settings
from django.db.backends.postgresql.psycopg_any import BaseTzLoader, get_adapters_template
from django_prometheus.db.backends.postgresql.base import (
    DatabaseWrapper as PrometheusDatabaseWrapper,
)
from psycopg import adapt


class UtcTimestamptzLoader(BaseTzLoader):
    """Django's ``timestamptz`` loader for a UTC connection, parsing ``…+00`` in C."""

    timezone = UTC

    def load(self, data):
        try:
            value = datetime.fromisoformat(str(data, "ascii"))
        except ValueError:  # BC dates, infinity, years past 9999: Django's way
            return super().load(data)
        if value.tzinfo is UTC:
            return value
        return super().load(data)


def _adapters(use_tz: bool, timezone) -> adapt.AdaptersMap:
    """Django's adapters for the connection, with the fast loader when its zone is UTC."""
    template = get_adapters_template(use_tz, timezone)
    if timezone is not UTC:
        return template
    context = adapt.AdaptersMap(template)
    context.register_loader("timestamptz", UtcTimestamptzLoader)
    return context


class DatabaseWrapper(PrometheusDatabaseWrapper):
    def get_connection_params(self):
        params = super().get_connection_params()
        params["context"] = _adapters(settings.USE_TZ, self.timezone)
        return params

    def close_if_health_check_failed(self):
        """Django's per-request check, with ``SELECT 1`` only when the socket says so."""
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        if _looks_closed(self.connection) and not self.is_usable():
            self.close()
        self.health_check_done = True


def _looks_closed(connection) -> bool:
    """Whether an idle connection may be gone: psycopg says so, or the server wrote to it."""
    if connection.closed or connection.broken:
        return True
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
