"""Payments in the admin: append-only records, read, and reversed only through the service."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from mo_loans.admin import NoSaveButtons, ReadOnlyTabularInline, admin_link, money
from mo_loans.core.exceptions import ApplicationError
from payments import services
from payments.models import Payment, PaymentDetail


class PaymentDetailInline(ReadOnlyTabularInline):
    """The allocation in force (rows a replay superseded are kept, but not shown here)."""

    model = PaymentDetail
    verbose_name_plural = "Applied to"
    fields = ["loan_shown", "amount_shown", "recorded_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super().get_queryset(request).filter(superseded_at__isnull=True).select_related("loan")
        )

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see the payment sees where it went.
        return self.admin_site.get_model_admin(Payment).has_view_permission(request, obj)

    @admin.display(description="Loan")
    def loan_shown(self, detail: PaymentDetail) -> str:
        return admin_link(detail.loan)

    @admin.display(description="Amount")
    def amount_shown(self, detail: PaymentDetail) -> str:
        return money(detail.amount)


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
                modeladmin.message_user(
                    request, f"Payment {external_id}: {exc.message}", messages.ERROR
                )
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
class PaymentAdmin(NoSaveButtons, admin.ModelAdmin):
    """Payments are append-only: the admin reads them, and reverses them through the service."""

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
    actions = [reverse_payments]
    show_full_result_count = False
    change_form_template = "admin/payments/payment/change_form.html"
    fields = [
        "external_id",
        "customer_shown",
        "loan_shown",
        "total_amount_shown",
        "status",
        "rejection_reason",
        "paid_at",
        "recorded_at",
        "reversed_at",
        "reversal_reason",
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

    def has_reverse_permission(self, request) -> bool:
        return request.user.has_perm("payments.reverse_payment")

    def get_urls(self):
        view = self.admin_site.admin_view(self.reverse_view)
        return [
            path("<path:object_id>/reverse/", view, name="payments_payment_reverse"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        payment = self.get_object(request, object_id)
        can_reverse = (
            payment is not None
            and payment.status == Payment.Status.COMPLETED
            and self.has_reverse_permission(request)
        )
        extra_context = {
            **(extra_context or {}),
            "can_reverse": can_reverse,
            "reason_max_length": services.REASON_MAX_LENGTH,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def reverse_view(self, request: HttpRequest, object_id: str) -> HttpResponseRedirect:
        """The Reverse button of a completed payment's page: ``payment_reverse`` with a reason."""
        payment = get_object_or_404(Payment, pk=object_id)
        if request.method != "POST" or not self.has_reverse_permission(request):
            raise PermissionDenied
        try:
            services.payment_reverse(
                external_id=payment.external_id, reason=request.POST.get("reason", "")
            )
        except ApplicationError as exc:
            self.message_user(
                request, f"Payment {payment.external_id}: {exc.message}", messages.ERROR
            )
        else:
            self.message_user(request, f"Reversed {payment.external_id}.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:payments_payment_change", args=[payment.pk]))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
