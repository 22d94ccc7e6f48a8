"""factory-boy factories for every model, in one place."""

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
