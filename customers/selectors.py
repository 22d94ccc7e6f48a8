"""Customer reads."""

from __future__ import annotations

from django.db.models import QuerySet

from customers.models import Customer
from mo_loans.api.errors import NotFoundError


def customer_get(*, external_id: str) -> Customer:
    try:
        return Customer.objects.get(external_id=external_id)
    except Customer.DoesNotExist:
        raise NotFoundError(f"No customer with external_id '{external_id}'.") from None


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.order_by("id")
