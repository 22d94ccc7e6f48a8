"""Payment reads."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from mo_loans.core.exceptions import NotFoundError
from payments.models import Payment, PaymentDetail


def payment_list() -> QuerySet[Payment]:
    """Payments with their customer and current details, in a constant number of queries."""
    details = PaymentDetail.current.select_related("loan").order_by("id")
    return (
        Payment.objects.select_related("customer", "loan")
        .prefetch_related(Prefetch("details", queryset=details, to_attr="detail_rows"))
        .order_by("id")
    )


def payment_get(*, external_id: str) -> Payment:
    payment = payment_list().filter(external_id=external_id).first()
    if payment is None:
        raise NotFoundError(f"No payment with external_id '{external_id}'.")
    return payment
