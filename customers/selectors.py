"""Customer reads."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from customers.models import Customer
from mo_loans.core.exceptions import NotFoundError


def customer_get(*, external_id: str, known_at: datetime | None = None) -> Customer:
    """The customer; 404 when there is none, or there was none yet at ``known_at``."""
    customer = Customer.objects.filter(external_id=external_id).first()
    return customer_existing(customer, external_id=external_id, known_at=known_at)


def customer_existing(
    customer: Customer | None, *, external_id: str, known_at: datetime | None = None
) -> Customer:
    """``customer`` (read some other way) when it existed at ``known_at``; else
    :func:`customer_get`'s 404."""
    if customer is None or (known_at is not None and customer.created_at > known_at):
        raise NotFoundError(f"No customer with external_id '{external_id}'.")
    return customer


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.order_by("id")
