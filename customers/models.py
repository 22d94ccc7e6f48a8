from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from customers import rules
from mo_loans import ids
from mo_loans.limits import INSTANT_END, INSTANT_MIN, OUT_OF_RANGE

DUPLICATE_EXTERNAL_ID = "A customer with this external_id already exists."


class Customer(models.Model):
    class Status(models.IntegerChoices):
        ACTIVE = 1, "active"
        INACTIVE = 2, "inactive"

    external_id = models.CharField(
        max_length=rules.EXTERNAL_ID_MAX_LENGTH,
        # For the admin's form; the API's serializers and a CHECK say the same.
        validators=[RegexValidator(ids.DB_PATTERN, ids.ALPHABET_ERROR)],
    )
    score = models.DecimalField(
        max_digits=rules.SCORE_MAX_DIGITS,
        decimal_places=rules.SCORE_DECIMAL_PLACES,
        help_text="The credit line: the most the customer may owe at once.",
    )
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.ACTIVE)
    preapproved_at = models.DateTimeField(null=True, blank=True)
    name = models.CharField(max_length=rules.NAME_MAX_LENGTH, blank=True, default="")
    email = models.EmailField(max_length=rules.EMAIL_MAX_LENGTH, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                name="customer_external_id_unique",
                violation_error_code="duplicate_external_id",
                violation_error_message=DUPLICATE_EXTERNAL_ID,
            ),
            models.CheckConstraint(condition=Q(score__gte=0), name="customer_score_not_negative"),
            models.CheckConstraint(condition=Q(status__in=[1, 2]), name="customer_status_valid"),
            models.CheckConstraint(
                condition=~Q(external_id="")
                & ~Q(external_id__in=sorted(rules.RESERVED_EXTERNAL_IDS)),
                name="customer_external_id_valid",
            ),
            models.CheckConstraint(
                condition=Q(external_id__regex=ids.DB_PATTERN),
                name="customer_external_id_alphabet",
                violation_error_code="invalid",
                violation_error_message=ids.ALPHABET_ERROR,
            ),
            # Written in the years 1900-2200 (mo_loans.limits): every time zone can show it.
            models.CheckConstraint(
                condition=Q(preapproved_at__isnull=True)
                | Q(preapproved_at__gte=INSTANT_MIN, preapproved_at__lt=INSTANT_END),
                name="customer_preapproved_at_range",
                violation_error_code="invalid",
                violation_error_message=OUT_OF_RANGE,
            ),
        ]

    def __str__(self) -> str:
        return self.external_id
