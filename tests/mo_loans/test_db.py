"""Transactions and the time limits every database connection starts with."""

import psycopg
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from customers.importing import ImportResult
from customers.management.commands import import_customers
from loans.models import Loan
from mo_loans.db import request_transaction, write_transaction
from mo_loans.dbconfig import database_settings
from tests.factories import CustomerFactory, make_loan
from tests.payments.conftest import taken


def show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_every_connection_has_a_lock_and_a_statement_timeout():
    assert show("lock_timeout") == "5s"
    assert show("statement_timeout") == "30s"
    assert show("client_connection_check_interval") == "1s"


@pytest.mark.django_db
def test_every_connection_has_room_for_the_portfolio_hashes():
    assert show("work_mem") == "64MB"


def test_work_mem_comes_from_the_settings_value(tmp_path):
    config = database_settings(
        name="ledger",
        user="lender",
        password="",
        host="db.internal",
        port="5432",
        embedded_data_dir=tmp_path,
        work_mem_mb=16,
    )
    assert config["OPTIONS"]["options"].split()[-2:] == ["-c", "work_mem=16MB"]


def test_the_timeouts_come_from_the_settings_values(tmp_path):
    config = database_settings(
        name="ledger",
        user="lender",
        password="",
        host="db.internal",
        port="5432",
        embedded_data_dir=tmp_path,
        lock_timeout_ms=250,
        statement_timeout_ms=0,
        client_check_interval_ms=0,
    )
    options = config["OPTIONS"]["options"]
    assert options.split() == [
        "-c",
        "lock_timeout=250",
        "-c",
        "statement_timeout=0",
        "-c",
        "client_connection_check_interval=0",
    ]
    # libpq accepts it as is.
    assert psycopg.conninfo.make_conninfo(options=options)


@pytest.fixture
def loan(db):
    return make_loan(
        customer=CustomerFactory(external_id="c"), external_id="l", amount="100", taken_at=taken(1)
    )


def test_a_write_inside_the_request_transaction_is_checked_when_its_block_ends(loan):
    """The ledger's deferred triggers refuse the service that broke a rule, not the commit."""
    with request_transaction():
        with pytest.raises(IntegrityError, match="paid_amount"), write_transaction():
            Loan.objects.filter(pk=loan.pk).update(paid_amount=10, outstanding=100)
        # The savepoint went back; the request's transaction goes on.
        assert Loan.objects.get(pk=loan.pk).paid_amount == 0
        with write_transaction():
            Loan.objects.filter(pk=loan.pk).update(contract_version="v2")
    assert Loan.objects.get(pk=loan.pk).contract_version == "v2"


@pytest.mark.django_db(transaction=True)
def test_a_write_is_durable_outside_the_request_transaction():
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):  # noqa: SIM117
        with write_transaction():
            pass
    with request_transaction(), write_transaction():
        pass


def test_import_customers_lifts_the_statement_timeout_for_its_long_statements(
    db, monkeypatch, tmp_path
):
    seen = []

    def customer_import(**kwargs):
        seen.append(show("statement_timeout"))
        return ImportResult(rows=0, created=0, skipped=0, seconds=0.0)

    monkeypatch.setattr(import_customers, "customer_import", customer_import)
    file = tmp_path / "customers.csv"
    file.write_text("external_id,score\n")
    call_command("import_customers", str(file))
    assert seen == ["0"]
    assert show("statement_timeout") == "30s"  # back for whatever the connection does next
