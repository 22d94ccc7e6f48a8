"""Fixtures for the replica and PgBouncer tests.

``standby``: one streaming replica for the tests of this folder, started at first
use and stopped (its files deleted) after the last of them. Where it cannot run (the
primary refuses replication connections), every test using it is skipped with
the reason, which is also printed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections

from tests.ops.replica.pg_servers import (
    PgBouncer,
    Standby,
    Unavailable,
    binaries,
    embedded,
    primary_of,
    run_as,
)


def skip_because(what: str, exc: Exception):
    print(f"\n{what} skipped: {exc}")
    pytest.skip(f"{what}: {exc}")


@pytest.fixture(scope="package")
def standby(django_db_setup) -> Iterator[Standby]:
    settings_dict = connections["default"].settings_dict
    primary = primary_of(settings_dict)
    is_embedded = embedded(settings_dict)
    try:
        server = Standby(
            primary,
            bindir=binaries(primary, is_embedded=is_embedded),
            user=run_as(primary, is_embedded=is_embedded),
        )
    except Unavailable as exc:
        skip_because("streaming replica", exc)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def bouncer_for():
    """``bouncer_for(databases)``: a PgBouncer (tests/ops/replica/pg_servers.py), stopped after."""
    started = []
    settings_dict = connections["default"].settings_dict
    user = run_as(primary_of(settings_dict), is_embedded=embedded(settings_dict))

    def start(databases: dict) -> PgBouncer:
        users = sorted({server.user for server, _ in databases.values()})
        try:
            bouncer = PgBouncer(databases, users=users, user=user)
        except Unavailable as exc:
            skip_because("PgBouncer", exc)
        started.append(bouncer)
        return bouncer

    yield start
    for bouncer in started:
        bouncer.destroy()
