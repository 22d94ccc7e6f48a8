"""The project's database backend reads date-times as Django's own loader does."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.adapt import Loader

from mo_loans.db_backend.base import UtcTimestamptzLoader

pytestmark = pytest.mark.django_db


class DjangoUtcLoader(BaseTzLoader):
    timezone = UTC


def _loaders():
    connection.ensure_connection()
    raw = connection.connection
    oid = raw.adapters.types["timestamptz"].oid
    return raw, UtcTimestamptzLoader(oid, raw), DjangoUtcLoader(oid, raw)


def test_the_connection_reads_timestamptz_with_the_fast_loader():
    raw, _, _ = _loaders()
    loader: type[Loader] = raw.adapters.get_loader(raw.adapters.types["timestamptz"].oid, 0)
    assert loader is UtcTimestamptzLoader
    with connection.cursor() as cursor:
        cursor.execute("SELECT '2026-12-02 10:11:21.5+00'::timestamptz")
        (value,) = cursor.fetchone()
    assert value == datetime(2026, 12, 2, 10, 11, 21, 500000, tzinfo=UTC)
    assert value.tzinfo is UTC


instants = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-15 * 60, max_value=15 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=200, deadline=None)
@given(instant=instants, shown_at=offsets)
def test_the_fast_loader_gives_what_djangos_gives(instant, shown_at):
    """Whatever PostgreSQL's text is (the session's +00, another offset), the value is the
    same aware UTC date-time as Django's loader makes."""
    raw, fast, django_loader = _loaders()
    with raw.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz::text", [instant])
        (text,) = cursor.fetchone()
    # The same instant as another session zone would print it (never in this session).
    other = instant.astimezone(shown_at).isoformat(sep=" ")
    for shown in (text, other):
        data = shown.encode()
        assert fast.load(data) == django_loader.load(data) == instant
        assert fast.load(data).tzinfo is UTC


@pytest.mark.parametrize("text", ["infinity", "-infinity", "0044-03-15 12:00:00+00 BC"])
def test_what_the_c_parser_refuses_goes_to_djangos_loader(text):
    _, fast, django_loader = _loaders()
    data = text.encode()
    try:
        expected = django_loader.load(data)
    except Exception as error:
        with pytest.raises(type(error)):
            fast.load(data)
    else:
        assert fast.load(data) == expected
