from django.contrib import admin, messages
from django.db.models import QuerySet

from loans import services
from loans.models import Installment, Loan
from mo_loans.api.errors import ApplicationError


class InstallmentInline(admin.TabularInline):
    model = Installment
    fields = ["number", "due_date", "amount"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["number"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


def _run(modeladmin, request, queryset: QuerySet[Loan], action, verb: str) -> None:
    """Apply a lifecycle service to each selected loan; report refusals, never bypass them."""
    done = 0
    for external_id in queryset.values_list("external_id", flat=True):
        try:
            action(external_id=external_id)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"{external_id}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} loan(s).", messages.SUCCESS)


@admin.action(description="Activate selected pending loans (taken now)")
def activate(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.loan_activate, "Activated")


@admin.action(description="Reject selected pending loans")
def reject(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.loan_reject, "Rejected")


@admin.register(Loan)
class LoanAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "customer",
        "amount",
        "total_amount",
        "outstanding",
        "status",
        "taken_at",
        "maximum_payment_date",
    ]
    list_filter = ["status"]
    search_fields = ["external_id", "customer__external_id", "customer__name"]
    list_select_related = ["customer"]
    inlines = [InstallmentInline]
    actions = [activate, reject]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Loan._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # loans are created through the API, where the credit line is checked

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
