from django.contrib import admin

from customers import services
from customers.models import Customer
from loans.models import Loan
from loans.selectors import customer_balance
from mo_loans.admin import changelist_link, money
from payments.models import Payment

BALANCE_FIELDS = [
    "score_shown",
    "total_debt",
    "available_amount",
    "delinquent",
    "loans",
    "payments",
]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "score_shown", "status", "created_on"]
    list_filter = ["status"]
    search_fields = ["external_id", "name", "email"]
    readonly_fields = ["created_at", "updated_at", *BALANCE_FIELDS]
    ordering = ["-id"]
    show_full_result_count = False

    def has_delete_permission(self, request, obj=None) -> bool:
        # Customers are parties to the ledger: never deleted (the app role may not either).
        return False

    def get_fieldsets(self, request, obj=None):
        main = (None, {"fields": ["external_id", "score", "status", "name", "email"]})
        if obj is None:
            return [(None, {"fields": ["external_id", "score", "preapproved_at", "name", "email"]})]
        return [
            main,
            (
                "Balance as of today",
                {"fields": [("score_shown", "total_debt", "available_amount"), "delinquent"]},
            ),
            ("Loans and payments", {"fields": [("loans", "payments")]}),
            ("Dates", {"fields": ["preapproved_at", ("created_at", "updated_at")]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        # The external id is the client's key for the customer: fixed once created;
        # customer_update changes score, status, name and email only.
        if obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "external_id", "preapproved_at"]

    def _balance(self, customer: Customer) -> dict:
        """The customer's balance today, computed once per page (``loans.selectors``)."""
        if getattr(customer, "_admin_balance", None) is None:
            customer._admin_balance = customer_balance(customer=customer)
        return customer._admin_balance

    @admin.display(description="Credit line (score)", ordering="score")
    def score_shown(self, customer: Customer) -> str:
        return money(customer.score)

    @admin.display(description="Created", ordering="created_at")
    def created_on(self, customer: Customer):
        return customer.created_at.date()

    @admin.display(description="Total debt")
    def total_debt(self, customer: Customer) -> str:
        return money(self._balance(customer)["total_debt"])

    @admin.display(description="Available amount")
    def available_amount(self, customer: Customer) -> str:
        return money(self._balance(customer)["available_amount"])

    @admin.display(description="Delinquent")
    def delinquent(self, customer: Customer) -> str:
        # Words, not Django's green tick: being delinquent is not good news.
        if self._balance(customer)["is_delinquent"]:
            return "Yes: a loan has 2 or more missed instalments"
        return "No"

    @admin.display(description="Loans")
    def loans(self, customer: Customer) -> str:
        count = Loan.objects.filter(customer=customer).count()
        return changelist_link(Loan, f"{count} loan(s)", customer__id__exact=customer.pk)

    @admin.display(description="Payments")
    def payments(self, customer: Customer) -> str:
        count = Payment.objects.filter(customer=customer).count()
        return changelist_link(Payment, f"{count} payment(s)", customer__id__exact=customer.pk)

    def save_model(self, request, obj, form, change):
        """Save through the same services the API uses."""
        if change:
            services.customer_update(
                customer=obj, data={f: form.cleaned_data[f] for f in form.changed_data}
            )
            return
        created = services.customer_create(
            external_id=obj.external_id,
            score=obj.score,
            preapproved_at=obj.preapproved_at,
            name=obj.name,
            email=obj.email,
        )
        obj.pk, obj.status = created.pk, created.status
        obj.created_at, obj.updated_at = created.created_at, created.updated_at
