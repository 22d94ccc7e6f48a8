"""The database protects the ledger: the app's role owns nothing, and triggers guard the rest."""

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone
from psycopg import errors, sql
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from customers.models import Customer
from loans.models import Installment, Loan
from mo_loans.dbroles import app_role_grant
from payments.models import Payment
from tests.factories import CustomerFactory, make_loan

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def app_role(django_db_setup, django_db_blocker) -> dict[str, str]:
    """The app's role on the test database, with the grants ``manage.py migrate`` gives it.

    The configured DATABASE_USER when it is not the role the suite runs as (the
    embedded server's mo_loans_app); else a role made for this test database.
    """
    settings_dict = connection.settings_dict
    app = settings_dict["APP"]
    with django_db_blocker.unblock():
        role, password = app["USER"], app["PASSWORD"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = %s", [role])
            found = cursor.fetchone()
            if found is None or found[0] or role == settings_dict["USER"]:
                role, password = f"{settings_dict['NAME']}_app"[:63], ""
                cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
                if cursor.fetchone() is None:
                    try:
                        cursor.execute(
                            sql.SQL("CREATE ROLE {} LOGIN")
                            .format(sql.Identifier(role))
                            .as_string(connection.connection)
                        )
                    except Exception as exc:
                        pytest.skip(f"cannot create a role to test with: {exc}")
        app_role_grant(role=role)
    return {"USER": role, "PASSWORD": password}


@pytest.fixture
def as_app(app_role):
    """A psycopg connection to the test database as the app's role (autocommit)."""
    s = connection.settings_dict
    conn = psycopg.connect(
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        dbname=s["NAME"],
        user=app_role["USER"],
        password=app_role["PASSWORD"] or None,
        autocommit=True,
    )
    yield conn
    conn.close()


LEDGER = ["payments_payment", "payments_paymentdetail", "loans_loan", "loans_installment"]
REFUSED = [
    *(f"TRUNCATE {table}" for table in [*LEDGER, "customers_customer"]),
    "TRUNCATE payments_payment CASCADE",
    *(f"DELETE FROM {table}" for table in [*LEDGER, "customers_customer"]),
    "DROP TABLE payments_payment",
    "DROP TABLE payments_paymentdetail CASCADE",
    "ALTER TABLE payments_payment DISABLE TRIGGER payment_guard",
    "ALTER TABLE payments_payment DISABLE TRIGGER ALL",
    "ALTER TABLE payments_paymentdetail DISABLE TRIGGER payment_detail_ledger_check",
    "ALTER TABLE loans_loan DISABLE TRIGGER loan_terms_fixed",
    "ALTER TABLE loans_loan DROP CONSTRAINT loan_outstanding_range",
    "ALTER TABLE payments_payment ADD COLUMN note text",
    "DROP TRIGGER payment_guard ON payments_payment",
    "DROP FUNCTION payments_payment_guard()",
    "SET session_replication_role = replica",
    "DELETE FROM django_migrations",
    "INSERT INTO django_migrations (app, name, applied) VALUES ('x', 'y', now())",
    "CREATE TABLE public.shadow (id int)",
    "CREATE TRIGGER mine BEFORE INSERT ON payments_payment"
    " FOR EACH ROW EXECUTE FUNCTION payments_payment_guard()",
]


@pytest.mark.django_db
@pytest.mark.parametrize("statement", REFUSED)
def test_the_app_role_cannot_wipe_or_unguard_the_ledger(as_app, statement):
    with pytest.raises(errors.InsufficientPrivilege):
        as_app.execute(statement)


@pytest.mark.django_db
def test_the_app_role_cannot_hand_out_privileges(as_app):
    as_app.execute("GRANT DELETE, TRUNCATE ON payments_payment TO PUBLIC")  # only a warning
    granted = as_app.execute(
        "SELECT has_table_privilege('public', 'payments_payment', 'DELETE'),"
        " has_table_privilege(current_user, 'payments_payment', 'TRUNCATE')"
    ).fetchone()
    assert granted == (False, False)


@pytest.mark.django_db
def test_the_app_role_is_no_superuser_and_owns_nothing(as_app):
    (superuser, createdb, createrole) = as_app.execute(
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert (superuser, createdb, createrole) == (False, False, False)
    owned = as_app.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = current_user"
    ).fetchone()
    assert owned == (0,)


@pytest.mark.django_db
def test_the_app_role_reads_writes_and_deletes_where_the_app_does(as_app):
    for table in [*LEDGER, "customers_customer", "mo_loans_idempotencykey"]:
        as_app.execute(f"SELECT count(*) FROM {table}")
        as_app.execute(f"UPDATE {table} SET id = id WHERE false")
    as_app.execute("SELECT count(*) FROM django_migrations")  # `migrate --check` works
    for table in ["mo_loans_idempotencykey", "django_session", "axes_accessattempt"]:
        as_app.execute(f"DELETE FROM {table} WHERE false")
    with as_app.transaction(force_rollback=True):
        as_app.execute(
            "INSERT INTO customers_customer (external_id, score, status, name, email,"
            " created_at, updated_at) VALUES ('role-test', 1, 1, '', '', now(), now())"
        )
        as_app.execute("CREATE TEMP TABLE scratch (id int) ON COMMIT DROP")
        as_app.execute("CREATE TABLE customers_import.stage_role_test (id int)")


@pytest.mark.django_db(transaction=True)
def test_the_whole_api_works_as_the_app_role(app_role, tmp_path):
    """Every write path the app has, run on a connection as the app's role."""
    default = connections["default"]
    owner = {"USER": default.settings_dict["USER"], "PASSWORD": default.settings_dict["PASSWORD"]}
    default.close()
    default.settings_dict.update(app_role)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone() == (app_role["USER"],)
        _, key = APIKey.objects.create_key(name="role-test")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

        def ok(response, status=201):
            assert response.status_code == status, response.content
            return response.json()

        ok(api.post("/api/customers", {"external_id": "C1", "score": "5000"}, format="json"))
        ok(api.patch("/api/customers/C1", {"name": "Ana"}, format="json"), 200)
        ok(api.post("/api/customers/bulk", [{"external_id": "C2", "score": "1"}], format="json"))
        loan = {"external_id": "L1", "customer_external_id": "C1", "amount": "1000"}
        ok(api.post("/api/loans", loan | {"term_weeks": 4}, format="json"))
        ok(api.post("/api/loans", loan | {"external_id": "L2"}, format="json"))
        ok(api.post("/api/loans/L2/reject"), 200)
        taken = (timezone.now() - timedelta(days=15)).isoformat()
        ok(api.post("/api/loans/L1/activate", {"taken_at": taken}, format="json"), 200)
        payment = {"external_id": "P1", "customer_external_id": "C1", "total_amount": "300"}
        first = ok(api.post("/api/payments", payment, format="json", HTTP_IDEMPOTENCY_KEY="k1"))
        again = ok(api.post("/api/payments", payment, format="json", HTTP_IDEMPOTENCY_KEY="k1"))
        assert first == again
        ok(api.get("/api/loans/L1/schedule"), 200)
        ok(api.get("/api/customers/C1/balance"), 200)
        ok(api.get("/api/loans"), 200)
        csv = tmp_path / "customers.csv"
        csv.write_text("external_id,score\nC3,1\nC4,2\n", encoding="utf-8")
        call_command("import_customers", str(csv), stdout=StringIO(), stderr=StringIO())
        call_command("prune_idempotency_keys", stdout=StringIO())
        assert Customer.objects.count() == 4
        assert Payment.objects.get().status == Payment.Status.COMPLETED
    finally:
        default.close()
        default.settings_dict.update(owner)


# --- triggers: what no role may do -----------------------------------------------------


def constraint_of(raised: pytest.ExceptionInfo) -> str:
    return raised.value.__cause__.diag.constraint_name


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["payments_payment", "payments_paymentdetail"])
def test_truncating_payments_or_details_is_refused_for_the_owner_too(table):
    with (
        pytest.raises(IntegrityError) as raised,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SET LOCAL mo_loans.allow_ledger_truncate = 'off'")
        cursor.execute(f"TRUNCATE {table} CASCADE")
    assert constraint_of(raised) == "payments_no_truncate"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"amount": Decimal("900.00")},
        {"interest_rate": Decimal("0.2000")},
        {"term_weeks": 5},
        {"total_amount": Decimal("1200.00")},
        {"installment_amount": Decimal("200.00")},
        "customer",
    ],
)
def test_a_loans_terms_never_change(change):
    loan = make_loan(external_id="L1", amount="1000", term_weeks=4)
    if change == "customer":
        change = {"customer": CustomerFactory()}
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        Loan.objects.filter(pk=loan.pk).update(**change)
    assert constraint_of(raised) == "loan_terms_fixed"


@pytest.mark.django_db
def test_a_pending_loans_other_fields_still_change():
    loan = make_loan(external_id="L1", amount="1000", term_weeks=4)
    Loan.objects.filter(pk=loan.pk).update(contract_version="v2")
    assert Loan.objects.get(pk=loan.pk).contract_version == "v2"


@pytest.mark.django_db
def test_an_activated_schedule_never_changes():
    loan = make_loan(
        external_id="L1", amount="1000", term_weeks=4, taken_at=timezone.now() - timedelta(days=1)
    )
    first = Installment.objects.filter(loan=loan).order_by("number").first()
    assert first.due_date is not None
    moves = [
        {"due_date": first.due_date + timedelta(days=7)},
        {"due_date": None},
        {"amount": first.amount + 1},
        {"number": 99},
    ]
    for change in moves:
        with pytest.raises(IntegrityError) as raised, transaction.atomic():
            Installment.objects.filter(pk=first.pk).update(**change)
        assert constraint_of(raised).startswith("installment_"), change


@pytest.mark.django_db
def test_activation_sets_due_dates_once_from_null():
    loan = make_loan(external_id="L1", amount="1000", term_weeks=4)
    first = Installment.objects.filter(loan=loan).order_by("number").first()
    assert first.due_date is None
    Installment.objects.filter(pk=first.pk).update(due_date=timezone.localdate())
    with pytest.raises(IntegrityError) as raised, transaction.atomic():
        Installment.objects.filter(pk=first.pk).update(amount=first.amount + 1)
    assert constraint_of(raised) == "installment_amount_fixed"


# --- manage.py migrate: as the owner, then the app role's grants ------------------------


def _server_connection(dbname: str) -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(
        host=s["HOST"] or None,
        port=s["PORT"] or None,
        dbname=dbname,
        user=s["USER"],
        password=s["PASSWORD"] or None,
        autocommit=True,
    )


@pytest.mark.django_db
def test_migrate_runs_as_the_owner_and_grants_the_app_role(app_role):
    s = connection.settings_dict
    probe = f"{s['NAME']}_migrate_probe"[:63]
    with _server_connection("postgres") as server:
        server.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(probe)))
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(probe)))
    env = {
        "DATABASE_NAME": probe,
        "DATABASE_USER": app_role["USER"],
        "DATABASE_PASSWORD": app_role["PASSWORD"],
        "DATABASE_OWNER_USER": s["USER"],
        "DATABASE_OWNER_PASSWORD": s["PASSWORD"],
    }
    if s["HOST"] and not str(s["HOST"]).startswith("/"):
        env |= {"DATABASE_HOST": s["HOST"], "DATABASE_PORT": str(s["PORT"] or 5432)}
    try:
        result = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"Granted the app role '{app_role['USER']}'" in result.stdout
        with _server_connection(probe) as owner:
            owners = owner.execute(
                "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'r'"
            ).fetchall()
        assert owners == [(s["USER"],)]
        app = psycopg.connect(
            host=s["HOST"] or None,
            port=s["PORT"] or None,
            dbname=probe,
            user=app_role["USER"],
            password=app_role["PASSWORD"] or None,
            autocommit=True,
        )
        with app:
            assert app.execute("SELECT count(*) FROM payments_payment").fetchone() == (0,)
            with pytest.raises(errors.InsufficientPrivilege):
                app.execute("TRUNCATE payments_payment")
    finally:
        with _server_connection("postgres") as server:
            server.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(probe))
            )
