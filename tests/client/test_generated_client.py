"""A Python client generated from /api/schema/ runs the README's first loan.

openapi-python-client (a dev dependency) generates the client into the test's
temporary folder from the schema the running app serves; the generator runs
with every HTTP proxy pointed at a closed port, so it works offline. The
client then creates a customer and a loan, activates it, pays the first
instalment and reads the schedule and the balance, over real HTTP.
"""

import importlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx
import pytest
from rest_framework_api_key.models import APIKey

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "mo_loans_generated_client"
OFFLINE = "http://127.0.0.1:9"  # nothing listens there: any download attempt fails


def _generate(schema_url: str, into: Path) -> None:
    schema = into / "schema.json"
    schema.write_bytes(httpx.get(schema_url, timeout=30).raise_for_status().content)
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # its ruff post-hooks
        "HTTP_PROXY": OFFLINE,
        "HTTPS_PROXY": OFFLINE,
        "http_proxy": OFFLINE,
        "https_proxy": OFFLINE,
        "NO_PROXY": "",
    }
    result = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(schema),
            "--meta",
            "none",
            "--output-path",
            str(into / PACKAGE),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=into,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (into / PACKAGE / "client.py").exists(), result.stdout + result.stderr
    # The one thing it leaves out: the bulk import's CSV body (its JSON body is there),
    # as the generator takes no text/csv body.
    warnings = [line for line in result.stdout.splitlines() if line.startswith("WARNING")]
    assert warnings in ([], ["WARNING parsing POST /api/customers/bulk within customers."])
    assert "Unsupported content type text/csv" in result.stdout or not warnings


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory):
    """Generate once for this module; ``generated("models")`` imports a part of the client."""
    into = tmp_path_factory.mktemp("client")
    _generate(f"{live_server.url}/api/schema?format=json", into)
    sys.path.insert(0, str(into))
    try:
        yield lambda name: importlib.import_module(f"{PACKAGE}.{name}")
    finally:
        sys.path.remove(str(into))
        for module in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
            del sys.modules[module]


def test_the_readme_first_loan_through_a_generated_client(generated, live_server):
    models = generated("models")
    customers_create = generated("api.customers.customers_create")
    balance_retrieve = generated("api.customers.customers_balance_retrieve")
    loans_create = generated("api.loans.loans_create")
    loans_activate = generated("api.loans.loans_activate")
    loans_schedule = generated("api.loans.loans_schedule")
    payments_create = generated("api.payments.payments_create")
    client_module = generated("client")

    _, key = APIKey.objects.create_key(name="generated-client")
    api = client_module.AuthenticatedClient(
        base_url=live_server.url, token=key, prefix="Api-Key", raise_on_unexpected_status=True
    )

    customer = customers_create.sync(
        client=api, body=models.CustomerInputRequest(external_id="ana", score="6000000")
    )
    assert isinstance(customer, models.CustomerOutput), customer
    assert customer.status is models.CustomerStatus.ACTIVE
    assert customer.score == "6000000.00"

    loan = loans_create.sync(
        client=api,
        body=models.LoanInputRequest(
            external_id="L-1", customer_external_id="ana", amount="5000000"
        ),
    )
    assert isinstance(loan, models.LoanDetailOutput), loan
    assert loan.status is models.LoanStatus.PENDING
    assert (loan.total_amount, loan.installment_amount) == ("5500000.00", "110000.00")

    active = loans_activate.sync("L-1", client=api, body=models.LoanActivateInputRequest())
    assert isinstance(active, models.LoanDetailOutput), active
    assert active.status is models.LoanStatus.ACTIVE
    assert active.outstanding == "5500000.00"

    payment = payments_create.sync(
        client=api,
        body=models.PaymentInputRequest(
            external_id="P-1", customer_external_id="ana", total_amount="110000"
        ),
    )
    assert isinstance(payment, models.PaymentOutput), payment
    assert payment.status is models.PaymentStatus.COMPLETED
    assert [(d.loan_external_id, d.amount) for d in payment.details] == [("L-1", "110000.00")]

    schedule = loans_schedule.sync("L-1", client=api)
    assert len(schedule) == 50
    assert schedule[0].status is models.InstallmentStatus.PAID
    assert schedule[0].paid_amount == "110000.00"
    assert {row.status for row in schedule[1:]} == {models.InstallmentStatus.DUE}

    balance = balance_retrieve.sync("ana", client=api, as_of=date(2030, 1, 1))
    assert isinstance(balance, models.BalanceDetailOutput), balance
    assert (balance.total_debt, balance.available_amount) == ("5390000.00", "610000.00")
    assert balance.is_delinquent is True  # by 2030 every later instalment has been missed


def test_the_generated_client_names_every_status(generated):
    models = generated("models")
    assert [m.name for m in models.LoanStatus] == ["PENDING", "ACTIVE", "REJECTED", "PAID"]
    assert [m.name for m in models.CustomerStatus] == ["ACTIVE", "INACTIVE"]
    assert [m.name for m in models.PaymentStatus] == ["COMPLETED", "REJECTED", "REVERSED"]
    assert models.PaymentStatus.REVERSED == 3
