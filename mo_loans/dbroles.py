"""Two database roles: the owner, who migrates, and the app, who owns nothing.

The owner (``DATABASE_OWNER_USER``) owns every table, trigger and function;
``manage.py migrate`` connects as it (mo_loans.management.commands.migrate) and
then grants the app role (``DATABASE_USER``) exactly what the app does:

* ``SELECT, INSERT, UPDATE`` on every table (the ledger triggers decide which
  updates are allowed: payments and details only as the ledger's own writes);
* ``DELETE`` only on the framework tables the app deletes from: idempotency
  keys, sessions, the admin's users, groups and log, API keys, login attempts;
  never on customers, loans, instalments, payments or payment details;
* ``USAGE`` on the sequences, ``SELECT`` on ``django_migrations`` (so that
  ``migrate --check`` tells whether the schema is current), and ``CREATE`` in
  the ``customers_import`` schema for ``import_customers``' staging tables.

It gets no ``TRUNCATE``, ``REFERENCES`` or ``TRIGGER``, and, owning nothing,
cannot ``ALTER``, ``DROP`` or disable triggers; not being a superuser it
cannot set ``session_replication_role``. docs/operations.md tells how to make
the two roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.apps import apps
from django.db import connections
from psycopg import sql

# Their tables are the ledger: the app never deletes a row of them.
LEDGER_APPS = ("customers", "loans", "payments")
IMPORT_SCHEMA = "customers_import"


def app_tables() -> tuple[list[str], list[str]]:
    """(ledger tables, other tables) of every installed model, auto-created M2M included."""
    ledger: list[str] = []
    other: list[str] = []
    for model in apps.get_models(include_auto_created=True):
        if model._meta.proxy or not model._meta.managed:
            continue
        (ledger if model._meta.app_label in LEDGER_APPS else other).append(model._meta.db_table)
    return sorted(set(ledger)), sorted(set(other))


def app_role_grants(role: str) -> list[sql.Composable]:
    """The statements that give ``role`` the app's privileges, and only those."""
    ledger, other = app_tables()
    who = sql.Identifier(role)

    def tables(names: list[str]) -> sql.Composable:
        return sql.SQL(", ").join(sql.Identifier(name) for name in names)

    return [
        sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(who),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(who),
        sql.SQL("GRANT SELECT, INSERT, UPDATE ON {} TO {}").format(tables(ledger + other), who),
        sql.SQL("GRANT DELETE ON {} TO {}").format(tables(other), who),
        sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(who),
        # Read-only: `migrate --check`, `showmigrations` and makemigrations' checks.
        sql.SQL("GRANT SELECT ON django_migrations TO {}").format(who),
        sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(
            sql.Identifier(IMPORT_SCHEMA), who
        ),
    ]


def app_role_grant(*, alias: str = "default", role: str) -> None:
    """Run :func:`app_role_grants` on ``alias`` (connected as the owner)."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        for statement in app_role_grants(role):
            cursor.execute(statement.as_string(connection.connection))


def owner_credentials(settings_dict: dict[str, Any]) -> dict[str, str] | None:
    """The owner's USER and PASSWORD when they differ from the app's; else None."""
    owner = settings_dict.get("OWNER") or {}
    if not owner.get("USER") or owner["USER"] == settings_dict.get("USER"):
        return None
    return {"USER": owner["USER"], "PASSWORD": owner.get("PASSWORD", "")}


@contextmanager
def connected_as_owner(alias: str = "default") -> Iterator[str | None]:
    """Connect ``alias`` as the owner for the block; yields the app role to grant, if any."""
    connection = connections[alias]
    owner = owner_credentials(connection.settings_dict)
    if owner is None:
        yield None
        return
    app = {key: connection.settings_dict[key] for key in ("USER", "PASSWORD")}
    connection.close()
    connection.settings_dict.update(owner)
    try:
        yield app["USER"]
    finally:
        connection.close()
        connection.settings_dict.update(app)
