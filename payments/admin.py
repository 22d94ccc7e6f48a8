from django.contrib import admin

from payments.models import Payment, PaymentDetail


class PaymentDetailInline(admin.TabularInline):
    model = PaymentDetail
    fields = ["loan", "amount", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments are append-only: the admin reads them and nothing else."""

    list_display = ["external_id", "customer", "total_amount", "status", "paid_at"]
    list_filter = ["status"]
    search_fields = ["external_id", "customer__external_id", "customer__name"]
    list_select_related = ["customer"]
    inlines = [PaymentDetailInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
