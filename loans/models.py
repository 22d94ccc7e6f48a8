from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.functional import cached_property

from billing.money import MAX_DIGITS, MONEY_PLACES
from billing.schedule import MAX_TERM_WEEKS, MIN_TERM_WEEKS, Terms
from customers.models import Customer
from loans import expressions
from mo_loans import ids
from mo_loans.limits import INSTANT_END, INSTANT_MIN, OUT_OF_RANGE

DUPLICATE_EXTERNAL_ID = "A loan with this external_id already exists."


def money_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(max_digits=MAX_DIGITS, decimal_places=MONEY_PLACES, **kwargs)


class Loan(models.Model):
    class Status(models.IntegerChoices):
        PENDING = 1, "pending"
        ACTIVE = 2, "active"
        REJECTED = 3, "rejected"
        PAID = 4, "paid"

    external_id = models.CharField(max_length=ids.MAX_LENGTH)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="loans")
    amount = money_field(help_text="The principal.")
    interest_rate = models.DecimalField(
        max_digits=5, decimal_places=4, help_text="Flat, for the whole term: 0.10 is 10 %."
    )
    term_weeks = models.PositiveSmallIntegerField()
    total_amount = money_field(help_text="amount × (1 + interest_rate), half-up to the cent.")
    installment_amount = money_field(help_text="Every instalment but the last.")
    paid_amount = money_field(default=0, help_text="Everything paid to the loan so far.")
    outstanding = money_field(help_text="total_amount − paid_amount; 0 once rejected.")
    # Kept by PostgreSQL on every write, from the columns above: portfolio-wide reads
    # of "as of today" take them instead of computing them per loan.
    paid_installments = models.GeneratedField(
        expression=expressions.paid_installments(expressions.LOAN, F("paid_amount")),
        output_field=models.IntegerField(),
        db_persist=True,
        help_text="Instalments paid_amount covers in full (billing.state.paid_installments).",
    )
    outstanding_principal = models.GeneratedField(
        expression=expressions.outstanding_principal(expressions.LOAN, F("outstanding")),
        output_field=money_field(),
        db_persist=True,
        help_text="The principal part of outstanding (billing.portfolio.outstanding_principal).",
    )
    status = models.PositiveSmallIntegerField(choices=Status.choices, default=Status.PENDING)
    contract_version = models.CharField(max_length=60, blank=True, default="")
    taken_at = models.DateTimeField(
        null=True, blank=True, help_text="When the loan was taken (value time)."
    )
    start_date = models.DateField(
        null=True,
        blank=True,
        help_text="The local date of taken_at; instalment k is due 7·k days later.",
    )
    maximum_payment_date = models.DateField(
        null=True, blank=True, help_text="The due date of the last instalment."
    )
    activated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the activation was recorded."
    )
    rejected_at = models.DateTimeField(
        null=True, blank=True, help_text="When the rejection was recorded."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["customer", "status"], name="loan_customer_status"),
            models.Index(fields=["start_date"], name="loan_start_date"),
            # "Which loans were activated since a day was closed" (loans/portfolio.py).
            models.Index(fields=["activated_at"], name="loan_activated_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                name="loan_external_id_unique",
                violation_error_code="duplicate_external_id",
                violation_error_message=DUPLICATE_EXTERNAL_ID,
            ),
            models.CheckConstraint(
                condition=Q(external_id__regex=ids.DB_PATTERN),
                name="loan_external_id_alphabet",
                violation_error_code="invalid",
                violation_error_message=ids.ALPHABET_ERROR,
            ),
            # Written in the years 1900-2200 (mo_loans.limits): every time zone can show it.
            models.CheckConstraint(
                condition=Q(taken_at__isnull=True)
                | Q(taken_at__gte=INSTANT_MIN, taken_at__lt=INSTANT_END),
                name="loan_taken_at_range",
                violation_error_code="invalid",
                violation_error_message=OUT_OF_RANGE,
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="loan_amount_positive"),
            models.CheckConstraint(
                condition=Q(interest_rate__gte=0, interest_rate__lte=1),
                name="loan_interest_rate_range",
            ),
            models.CheckConstraint(
                condition=Q(term_weeks__gte=MIN_TERM_WEEKS, term_weeks__lte=MAX_TERM_WEEKS),
                name="loan_term_weeks_range",
            ),
            models.CheckConstraint(
                condition=Q(total_amount__gte=F("amount")), name="loan_total_covers_amount"
            ),
            models.CheckConstraint(
                condition=Q(installment_amount__gt=0)
                & Q(installment_amount__lte=F("total_amount")),
                name="loan_installment_positive",
            ),
            models.CheckConstraint(
                condition=Q(outstanding__gte=0) & Q(outstanding__lte=F("total_amount")),
                name="loan_outstanding_range",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=F("total_amount")),
                name="loan_paid_amount_range",
            ),
            # A rejected loan owes nothing; any other owes exactly what was not paid,
            # and is paid (4) exactly when that reaches zero.
            models.CheckConstraint(
                condition=(Q(status=3) & Q(outstanding=0) & Q(paid_amount=0))
                | (
                    Q(status__in=[1, 2, 4])
                    & Q(outstanding=F("total_amount") - F("paid_amount"))
                    & (Q(status=4, outstanding=0) | Q(status__in=[1, 2], outstanding__gt=0))
                ),
                name="loan_status_outstanding_consistent",
            ),
            # Only an activated loan has a start and an end; only a rejected one a rejection.
            models.CheckConstraint(
                condition=(
                    Q(
                        status__in=[2, 4],
                        taken_at__isnull=False,
                        start_date__isnull=False,
                        maximum_payment_date__isnull=False,
                        activated_at__isnull=False,
                        rejected_at__isnull=True,
                    )
                    | Q(
                        status__in=[1, 3],
                        taken_at__isnull=True,
                        start_date__isnull=True,
                        maximum_payment_date__isnull=True,
                        activated_at__isnull=True,
                    )
                    & (
                        Q(status=1, rejected_at__isnull=True)
                        | Q(status=3, rejected_at__isnull=False)
                    )
                ),
                name="loan_dates_match_status",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id

    @cached_property
    def customer_external_id(self) -> str:
        """The customer's id; a list query selects it as a column instead of the customer
        (:func:`loans.selectors.loan_list`), which sets it on each loan."""
        return self.customer.external_id

    @property
    def terms(self) -> Terms:
        """The loan's terms as ``billing`` reads them."""
        return Terms(
            amount=self.amount,
            interest_rate=self.interest_rate,
            term_weeks=self.term_weeks,
            total_amount=self.total_amount,
            installment_amount=self.installment_amount,
        )


# Loans whose outstanding counts as the customer's debt now (the balance, docs/billing.md).
OPEN_STATUSES = (Loan.Status.PENDING, Loan.Status.ACTIVE)


class Installment(models.Model):
    """One weekly instalment of a loan's schedule. Due dates are fixed at activation."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="installments")
    number = models.PositiveSmallIntegerField()
    due_date = models.DateField(null=True, blank=True)
    amount = money_field()

    class Meta:
        ordering = ["loan_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "number"], name="installment_number_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="installment_number_positive"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="installment_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} #{self.number}"


class PortfolioClose(models.Model):
    """A closed day: the portfolio's figures as of ``day``, as the ledger stood at ``known_at``.

    Written by ``loans.closing.portfolio_close`` (``manage.py close_portfolio``,
    nightly), never changed: closing a day again adds a newer close. A read of
    a past day takes the newest close known by its ``known_at`` and corrects it
    for what the ledger learned since (``loans/portfolio.py``), so its answer is
    the one computed from the ledger, only faster.
    """

    day = models.DateField(help_text="The local date the figures are as of (its end).")
    known_at = models.DateTimeField(help_text="The figures are as the ledger stood then.")
    time_zone = models.CharField(max_length=64, help_text="TIME_ZONE that defined the day.")
    rules = models.PositiveSmallIntegerField(help_text="loans.closing.RULES when it was closed.")
    closed_at = models.DateTimeField(default=timezone.now)
    delinquent_customers = models.PositiveIntegerField()
    due_amount = money_field(help_text="Instalments due on the day.")
    collected_on_time = money_field(help_text="The part of them paid by the end of the day.")
    collected = money_field(help_text="Everything paid on the day (value date).")

    class Meta:
        ordering = ["day", "known_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "time_zone", "rules", "known_at"], name="portfolio_close_unique"
            ),
            models.CheckConstraint(
                condition=Q(due_amount__gte=0)
                & Q(collected_on_time__gte=0)
                & Q(collected_on_time__lte=F("due_amount"))
                & Q(collected__gte=0),
                name="portfolio_close_amounts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} as known at {self.known_at:%Y-%m-%d %H:%M:%S}"


class PortfolioCloseBand(models.Model):
    """The active loans of one close with the same days past due and delinquency."""

    close = models.ForeignKey(PortfolioClose, on_delete=models.PROTECT, related_name="bands")
    days_past_due = models.PositiveIntegerField()
    delinquent = models.BooleanField()
    loans = models.PositiveIntegerField()
    outstanding = money_field()
    outstanding_principal = money_field()
    loan_ids = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        help_text="The loans, when late (days_past_due ≥ 1): the loan lists' filters read them.",
    )

    class Meta:
        ordering = ["close", "days_past_due", "delinquent"]
        constraints = [
            models.UniqueConstraint(
                fields=["close", "days_past_due", "delinquent"], name="portfolio_close_band_unique"
            ),
            models.CheckConstraint(
                condition=Q(loans__gt=0)
                & Q(outstanding__gt=0)
                & Q(outstanding_principal__gte=0)
                & Q(outstanding_principal__lte=F("outstanding")),
                name="portfolio_close_band_amounts",
            ),
            models.CheckConstraint(
                condition=Q(days_past_due=0, loan_ids__len=0)
                | Q(days_past_due__gt=0, loan_ids__len=F("loans")),
                name="portfolio_close_band_late_loans",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.close}: {self.days_past_due} days, {self.loans} loans"
