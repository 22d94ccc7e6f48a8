"""Schema fuzzing: schemathesis against our own OpenAPI schema, through the WSGI app."""

import pytest
import schemathesis
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck, Phase, settings
from rest_framework_api_key.models import APIKey
from schemathesis.specs.openapi.checks import positive_data_acceptance

from customers.models import Customer
from customers.services import DUPLICATE_EXTERNAL_ID
from loans.models import Loan
from mo_loans.models import IdempotencyKey
from mo_loans.wsgi import application
from payments.models import Payment, PaymentDetail

# One API key for the whole run, made up front so that schemathesis sends it
# itself (and can leave it out to check that a request without it is refused).
API_KEY, API_KEY_PREFIX, API_KEY_HASH = APIKey.objects.key_generator.generate()

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", application)


@schema.auth()
class ApiKeyAuth:
    """Send the run's API key with every request the fuzzer makes (it also tries without)."""

    def get(self, case, ctx):
        return API_KEY

    def set(self, case, data, ctx):
        case.headers["Authorization"] = f"Api-Key {data}"


# Codes of 400s that name the stored data, not the request's shape (docs/api.md:
# an unknown reference or a duplicate external_id is 400). A request the
# schema calls valid may meet them; any other 400 means schema and validation disagree.
STATE_DEPENDENT_400 = {
    "unknown_customer",
    "unknown_loan",
    "loan_of_another_customer",
    "loan_not_active",
    "duplicate_external_id",
    # Rules across fields or against the clock, which a schema cannot state.
    "installment_too_small",
    "taken_at_in_future",
    "paid_at_in_future",
    "known_at_in_future",
    "invalid_period",
    "period_too_long",
    "period_after_as_of",
    "invalid_dpd_range",
}


def _only_duplicate_rows(body: dict) -> bool:
    """A bulk import refused only for external ids stored already or repeated in the batch."""
    messages = [m for field in body.get("fields", {}).values() for m in field]
    return (
        body.get("code") == "invalid_rows"
        and bool(messages)
        and all(m == DUPLICATE_EXTERNAL_ID or m.startswith("Duplicate of row") for m in messages)
    )


def positive_data_acceptance_per_spec(ctx, response, case):
    """Schemathesis's ``positive_data_acceptance``, with the API's state-dependent refusals.

    A schema-valid request may still be refused because of what is stored:
    422 for a business rule, or a 400 from ``STATE_DEPENDENT_400``.
    """
    if response.status_code == 422:
        return None
    if response.status_code == 400:
        body = response.json()
        if body.get("code") in STATE_DEPENDENT_400 or _only_duplicate_rows(body):
            return None
    return positive_data_acceptance(ctx, response, case)


@pytest.fixture
def fuzz_api_key(db, settings):
    APIKey.objects.create(name="schemathesis", prefix=API_KEY_PREFIX, hashed_key=API_KEY_HASH)
    # The fuzzer sends bad keys on purpose; throttling them would hide every later answer.
    settings.AUTH_FAILURE_RATE = "1000000/min"


@pytest.mark.django_db(transaction=True)
@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, fuzz_api_key):
    case.call_and_validate(
        excluded_checks=[positive_data_acceptance],
        additional_checks=[positive_data_acceptance_per_spec],
    )


class ApiWorkflow(schema.as_state_machine()):
    """Chains operations through the schema's OpenAPI links (customer → loan → activate → pay).

    New customers get the largest credit line, so that the generated loans
    fit in it and the workflows go on to activation and payments.
    """

    def setup(self):
        # Hypothesis builds new scenarios from earlier ones and expects the same
        # steps to get the same answers: every scenario starts from empty tables.
        tables = [model._meta.db_table for model in (Customer, Loan, Payment, PaymentDetail)]
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {', '.join(tables)}, {IdempotencyKey._meta.db_table} CASCADE")

    def before_call(self, case):
        negative = case.meta is not None and case.meta.generation.mode.is_negative
        if (
            case.operation.label == "POST /api/customers"
            and isinstance(case.body, dict)
            and not negative  # a body meant to be invalid must stay invalid
        ):
            case.body["score"] = "999999999999.99"
        if case.operation.label.endswith("/activate") and isinstance(case.body, dict):
            try:
                taken_at = parse_datetime(str(case.body.get("taken_at", "")))
            except ValueError:  # well formed but impossible ("12:99"): the API answers 400
                taken_at = None
            if taken_at is not None and taken_at.tzinfo and taken_at > timezone.now():
                del case.body["taken_at"]  # a loan cannot be taken in the future; take it now

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(
            response,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[positive_data_acceptance_per_spec, *(additional_checks or [])],
            transport_kwargs=kwargs,
        )


@pytest.mark.django_db(transaction=True)
def test_api_workflows_follow_their_links(fuzz_api_key):
    ApiWorkflow.run(
        settings=settings(
            max_examples=100,
            stateful_step_count=10,
            deadline=None,
            derandomize=True,
            # The database keeps what earlier scenarios wrote, so a replay (shrinking)
            # would see other answers: report the first failing scenario as it ran.
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
    )
