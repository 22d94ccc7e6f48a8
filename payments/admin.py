from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse

from mo_loans.api.errors import ApplicationError
from payments import services
from payments.models import Payment, PaymentDetail


class PaymentDetailInline(admin.TabularInline):
    """The allocation in force (rows a replay superseded are kept, but not shown here)."""

    model = PaymentDetail
    fields = ["loan", "amount", "recorded_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).filter(superseded_at__isnull=True)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ReverseForm(forms.Form):
    _selected_action = forms.CharField(widget=forms.MultipleHiddenInput)
    reason = forms.CharField(
        max_length=services.REASON_MAX_LENGTH, help_text="Why: a bounced transfer, a wrong posting…"
    )


@admin.action(description="Reverse selected payments (asks for a reason)", permissions=["reverse"])
def reverse_payments(modeladmin, request, queryset):
    """Ask for a reason, then reverse each payment through ``payment_reverse``."""
    form = ReverseForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        done = 0
        for external_id in queryset.values_list("external_id", flat=True):
            try:
                services.payment_reverse(
                    external_id=external_id, reason=form.cleaned_data["reason"]
                )
                done += 1
            except ApplicationError as exc:
                modeladmin.message_user(request, f"{external_id}: {exc.message}", messages.ERROR)
        if done:
            modeladmin.message_user(request, f"Reversed {done} payment(s).", messages.SUCCESS)
        return None
    if not form.is_bound:
        form = ReverseForm(initial={"_selected_action": request.POST.getlist(ACTION_CHECKBOX_NAME)})
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Reverse payments",
        "payments": list(queryset.select_related("customer")),
        "form": form,
        "opts": modeladmin.model._meta,
    }
    return TemplateResponse(request, "admin/payments/payment/reverse.html", context)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    """Payments are append-only: the admin reads them, and reverses them through the service."""

    list_display = [
        "external_id",
        "customer",
        "total_amount",
        "status",
        "paid_at",
        "recorded_at",
        "rejection_reason",
    ]
    list_filter = ["status"]
    search_fields = ["external_id", "customer__external_id", "customer__name"]
    list_select_related = ["customer"]
    inlines = [PaymentDetailInline]
    actions = [reverse_payments]
    show_full_result_count = False

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("payments.reverse_payment")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
