"""Payments in the admin: append-only records, read and never edited."""

from django.contrib import admin

from mo_loans.admin import READONLY_TABULAR_TEMPLATE, NoSaveButtons, admin_link, money
from payments.models import Payment, PaymentDetail


class PaymentDetailInline(admin.TabularInline):
    model = PaymentDetail
    template = READONLY_TABULAR_TEMPLATE
    verbose_name_plural = "Applied to"
    fields = ["loan_shown", "amount_shown"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("loan")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see the payment sees where it went.
        return self.admin_site.get_model_admin(Payment).has_view_permission(request, obj)

    @admin.display(description="Loan")
    def loan_shown(self, detail: PaymentDetail) -> str:
        return admin_link(detail.loan)

    @admin.display(description="Amount")
    def amount_shown(self, detail: PaymentDetail) -> str:
        return money(detail.amount)


@admin.register(Payment)
class PaymentAdmin(NoSaveButtons, admin.ModelAdmin):
    """Payments are append-only: the admin reads them and nothing else."""

    list_display = [
        "external_id",
        "customer",
        "total_amount_shown",
        "status",
        "paid_at",
        "rejection_reason",
    ]
    list_filter = ["status"]
    search_fields = ["external_id", "customer__external_id", "customer__name"]
    list_select_related = ["customer"]
    inlines = [PaymentDetailInline]
    show_full_result_count = False
    fields = [
        "external_id",
        "customer_shown",
        "loan_shown",
        "total_amount_shown",
        "status",
        "rejection_reason",
        "paid_at",
        "created_at",
    ]
    readonly_fields = fields

    @admin.display(description="Total amount", ordering="total_amount")
    def total_amount_shown(self, payment: Payment) -> str:
        return money(payment.total_amount)

    @admin.display(description="Customer")
    def customer_shown(self, payment: Payment) -> str:
        return admin_link(payment.customer)

    @admin.display(description="For loan only")
    def loan_shown(self, payment: Payment) -> str:
        return admin_link(payment.loan) if payment.loan_id else "-"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
