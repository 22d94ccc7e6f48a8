"""factory-boy factories for every model, in one place."""

import itertools
from decimal import Decimal

import factory

from customers.models import Customer


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"cust-{n:06d}")
    score = Decimal("10000000.00")
    name = factory.Faker("name")
    email = factory.Faker("email")


_loan_numbers = itertools.count(1)


def make_loan(
    *,
    customer: Customer | None = None,
    external_id: str | None = None,
    amount: str = "5000000",
    interest_rate: str = "0.10",
    term_weeks: int = 50,
    taken_at=None,
):
    """A loan made through the services, as the API makes it; activated when ``taken_at``."""
    from loans.services import loan_activate, loan_create

    customer = customer or CustomerFactory()
    loan = loan_create(
        external_id=external_id
        or f"loan-{Customer.objects.count()}-{factory.random.randgen.random()}",
        customer_external_id=customer.external_id,
        amount=Decimal(amount),
        interest_rate=Decimal(interest_rate),
        term_weeks=term_weeks,
    )
    if taken_at is not None:
        loan = loan_activate(external_id=loan.external_id, taken_at=taken_at)
    return loan
