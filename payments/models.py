from django.db import models
from django.db.models import Q

from customers.models import Customer
from loans.models import Loan, money_field
from mo_loans import ids


class Payment(models.Model):
    """A (re)payment as it was received. Append-only: never edited, never deleted."""

    class Status(models.IntegerChoices):
        COMPLETED = 1, "completed"
        REJECTED = 2, "rejected"

    external_id = models.CharField(max_length=60)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    loan = models.ForeignKey(
        Loan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Set when the payment was for this one loan only.",
    )
    total_amount = money_field()
    status = models.PositiveSmallIntegerField(choices=Status.choices)
    paid_at = models.DateTimeField()
    rejection_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["customer", "paid_at"], name="payment_customer_paid_at"),
            models.Index(fields=["paid_at"], name="payment_paid_at"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["external_id"], name="payment_external_id_unique"),
            models.CheckConstraint(
                condition=Q(external_id__regex=ids.DB_PATTERN),
                name="payment_external_id_alphabet",
            ),
            models.CheckConstraint(
                condition=Q(total_amount__gt=0), name="payment_total_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(status=1, rejection_reason="")
                | (Q(status=2) & ~Q(rejection_reason="")),
                name="payment_rejection_reason_iff_rejected",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class PaymentDetail(models.Model):
    """How much of a completed payment went to one loan."""

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="details")
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payment_details")
    amount = money_field()
    paid_at = models.DateTimeField(help_text="The payment's paid_at, kept here for as-of reads.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["loan", "payment"], name="payment_detail_loan"),
            # "What did payments after date D give each loan" is one index-only scan.
            models.Index(
                fields=["paid_at"], include=["loan", "amount"], name="payment_detail_paid_at"
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["payment", "loan"], name="payment_detail_unique_loan"),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payment_detail_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.loan_id}: {self.amount}"
