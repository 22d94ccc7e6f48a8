from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from customers.models import Customer
from loans.models import Loan, money_field
from mo_loans import ids

DUPLICATE_EXTERNAL_ID = "A payment with this external_id already exists."


class Payment(models.Model):
    """A (re)payment as it was received. Append-only: never deleted; the one change
    ever made to a row is a completed payment's reversal."""

    class Status(models.IntegerChoices):
        COMPLETED = 1, "completed"
        REJECTED = 2, "rejected"
        REVERSED = 3, "reversed"

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
    paid_at = models.DateTimeField(help_text="When the money was received (value time).")
    recorded_at = models.DateTimeField(
        default=timezone.now, help_text="When the service accepted the payment."
    )
    rejection_reason = models.CharField(max_length=200, blank=True, default="")
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        permissions = [("reverse_payment", "Can reverse payments")]
        indexes = [
            models.Index(fields=["customer", "paid_at"], name="payment_customer_paid_at"),
            models.Index(fields=["paid_at"], name="payment_paid_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                name="payment_external_id_unique",
                violation_error_code="duplicate_external_id",
                violation_error_message=DUPLICATE_EXTERNAL_ID,
            ),
            models.CheckConstraint(
                condition=Q(external_id__regex=ids.DB_PATTERN),
                name="payment_external_id_alphabet",
                violation_error_code="invalid",
                violation_error_message=ids.ALPHABET_ERROR,
            ),
            models.CheckConstraint(
                condition=Q(total_amount__gt=0), name="payment_total_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[1, 3], rejection_reason="")
                | (Q(status=2) & ~Q(rejection_reason="")),
                name="payment_rejection_reason_iff_rejected",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[1, 2], reversed_at__isnull=True, reversal_reason="")
                | (Q(status=3, reversed_at__isnull=False) & ~Q(reversal_reason="")),
                name="payment_reversal_iff_reversed",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id


class CurrentDetails(models.Manager):
    """Only the allocation rows in force now (not superseded by a replay)."""

    def get_queryset(self):
        return super().get_queryset().filter(superseded_at__isnull=True)


class PaymentDetail(models.Model):
    """How much of a completed payment went to one loan, in one version of the allocation.

    A replay never changes an amount: it marks the rows it replaces as
    superseded (once, the only change a row ever takes) and writes new ones.
    The rows in force at instant K are those recorded by K and not superseded
    by K, so every answer the service ever gave can be given again.
    """

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="details")
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="payment_details")
    amount = money_field()
    paid_at = models.DateTimeField(help_text="The payment's paid_at, kept here for as-of reads.")
    recorded_at = models.DateTimeField(
        default=timezone.now, help_text="When this version of the allocation was written."
    )
    superseded_at = models.DateTimeField(
        null=True, blank=True, help_text="When a replay replaced this row; empty while in force."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = models.Manager()
    current = CurrentDetails()

    class Meta:
        ordering = ["id"]
        base_manager_name = "objects"
        indexes = [
            models.Index(fields=["loan", "payment"], name="payment_detail_loan"),
            # "What did payments after date D give each loan" is one index-only scan.
            models.Index(
                fields=["paid_at"],
                include=["loan", "amount"],
                condition=Q(superseded_at__isnull=True),
                name="payment_detail_paid_at",
            ),
            models.Index(
                fields=["loan"],
                include=["amount"],
                condition=Q(superseded_at__isnull=True),
                name="payment_detail_current_loan",
            ),
            # What the ledger learned since a day was closed: rows written, or
            # superseded, after the close's known_at (loans/portfolio.py).
            models.Index(fields=["recorded_at"], name="payment_detail_recorded_at"),
            models.Index(
                fields=["superseded_at"],
                condition=Q(superseded_at__isnull=False),
                name="payment_detail_superseded_at",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["payment", "loan"],
                condition=Q(superseded_at__isnull=True),
                name="payment_detail_unique_loan",
            ),
            models.CheckConstraint(
                condition=Q(superseded_at__isnull=True) | Q(superseded_at__gte=F("recorded_at")),
                name="payment_detail_superseded_after_recorded",
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="payment_detail_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payment_id} → {self.loan_id}: {self.amount}"
