"""Customer writes. The one place customer rules are enforced."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from customers.models import DUPLICATE_EXTERNAL_ID, Customer
from mo_loans.core.constraints import violation_error

__all__ = ["DUPLICATE_EXTERNAL_ID", "customer_create", "customer_update"]


def customer_create(
    *,
    external_id: str,
    score: Decimal,
    preapproved_at: datetime | None = None,
    name: str = "",
    email: str = "",
) -> Customer:
    """Create an active customer. A duplicate ``external_id`` is a 400."""
    if Customer.objects.filter(external_id=external_id).exists():
        raise violation_error(Customer, "customer_external_id_unique")
    # The unique constraint settles a race between two creates: its IntegrityError
    # is the same error (mo_loans.core.constraints).
    return Customer.objects.create(
        external_id=external_id,
        score=score,
        preapproved_at=preapproved_at,
        name=name,
        email=email,
    )


_UPDATABLE = frozenset({"score", "status", "name", "email"})


def customer_update(*, customer: Customer, data: dict) -> Customer:
    """Change ``score``, ``status``, ``name`` or ``email`` of a customer."""
    changed = sorted(set(data) & _UPDATABLE)
    if not changed:
        return customer
    with transaction.atomic():
        for field in changed:
            setattr(customer, field, data[field])
        customer.save(update_fields=[*changed, "updated_at"])
    return customer
