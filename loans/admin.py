"""Loans in the admin: read, with the schedule as of today; activate or reject through the services.

The loan page is read-only. An operator with the change permission sees
Activate (with an optional past ``taken_at``) and Reject buttons on a pending
loan's page, and the same two list actions; both call ``loans.services``, so
the admin obeys the same rules as the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone

from billing.money import ZERO
from billing.schedule import due_date
from billing.state import InstallmentState, installment_states
from loans import selectors, services
from loans.models import Installment, Loan, PortfolioClose, PortfolioCloseBand
from mo_loans.admin import NoSaveButtons, ReadOnlyTabularInline, admin_link, money
from mo_loans.core.exceptions import ApplicationError


def schedule_as_of_today(loan: Loan) -> dict[int, InstallmentState]:
    """Every instalment of ``loan`` with what was paid to it and its status today, one query.

    Before activation the due dates are projected from today, as the API shows them.
    """
    today = timezone.localdate()
    rows = Installment.objects.filter(loan=loan).order_by("number")
    installments = [
        (number, due or due_date(today, number), amount)
        for number, due, amount in rows.values_list("number", "due_date", "amount")
    ]
    paid = ZERO if loan.status == Loan.Status.REJECTED else loan.paid_amount
    states = installment_states(installments=installments, paid=paid, as_of=today)
    return {state.number: state for state in states}


class InstallmentInline(ReadOnlyTabularInline):
    model = Installment
    verbose_name_plural = "Schedule as of today"
    fields = ["number", "due", "amount_shown", "paid_shown", "status_shown"]
    readonly_fields = fields
    ordering = ["number"]

    def has_view_permission(self, request, obj=None) -> bool:
        # Whoever may see the loan sees its schedule.
        return self.admin_site.get_model_admin(Loan).has_view_permission(request, obj)

    def get_formset(self, request, obj=None, **kwargs):
        # One computation for the whole schedule; each row below only looks it up.
        self._states = schedule_as_of_today(obj) if obj is not None else {}
        return super().get_formset(request, obj, **kwargs)

    def _state(self, installment: Installment) -> InstallmentState | None:
        return self._states.get(installment.number)

    @admin.display(description="Due date")
    def due(self, installment: Installment):
        state = self._state(installment)
        return state.due_date if state else installment.due_date

    @admin.display(description="Amount")
    def amount_shown(self, installment: Installment) -> str:
        return money(installment.amount)

    @admin.display(description="Paid")
    def paid_shown(self, installment: Installment) -> str:
        state = self._state(installment)
        return money(state.paid_amount) if state else "-"

    @admin.display(description="Status")
    def status_shown(self, installment: Installment) -> str:
        state = self._state(installment)
        return state.status if state else "-"


def _run(modeladmin, request, queryset: QuerySet[Loan], action, verb: str) -> None:
    """Apply a lifecycle service to each selected loan; report refusals, never bypass them."""
    done = 0
    for external_id in queryset.values_list("external_id", flat=True):
        try:
            action(external_id=external_id)
            done += 1
        except ApplicationError as exc:
            modeladmin.message_user(request, f"Loan {external_id}: {exc.message}", messages.ERROR)
    if done:
        modeladmin.message_user(request, f"{verb} {done} loan(s).", messages.SUCCESS)


@admin.action(description="Activate selected pending loans (taken now)", permissions=["lifecycle"])
def activate(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.loan_activate, "Activated")


@admin.action(description="Reject selected pending loans", permissions=["lifecycle"])
def reject(modeladmin, request, queryset):
    _run(modeladmin, request, queryset, services.loan_reject, "Rejected")


class ActivateForm(forms.Form):
    taken_at = forms.DateTimeField(
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="Leave empty for now; a past date-time back-dates the schedule.",
    )


MONEY_FIELDS = ["amount", "total_amount", "installment_amount", "paid_amount", "outstanding"]


def _money_display(name: str, label: str):
    def shown(self, loan: Loan) -> str:
        return money(getattr(loan, name))

    shown.__name__ = f"{name}_shown"
    return admin.display(description=label, ordering=name)(shown)


@admin.register(Loan)
class LoanAdmin(NoSaveButtons, admin.ModelAdmin):
    list_display = [
        "external_id",
        "customer",
        "amount_shown",
        "outstanding_shown",
        "status",
        "taken_on",
        "ends_on",
    ]
    list_filter = ["status"]
    search_fields = ["external_id", "customer__external_id", "customer__name"]
    list_select_related = ["customer"]
    inlines = [InstallmentInline]
    actions = [activate, reject]
    show_full_result_count = False
    change_form_template = "admin/loans/loan/change_form.html"
    fieldsets = [
        (None, {"fields": ["external_id", "customer_shown", "status", "contract_version"]}),
        (
            "Money",
            {
                "fields": [
                    ("amount_shown", "interest_rate", "term_weeks"),
                    ("total_amount_shown", "installment_amount_shown"),
                    ("paid_amount_shown", "outstanding_shown"),
                ]
            },
        ),
        (
            "Billing state as of today",
            {"fields": [("missed_shown", "overdue_shown", "days_past_due_shown"), "delinquent"]},
        ),
        ("Dates", {"fields": [("taken_at", "maximum_payment_date"), ("created_at", "updated_at")]}),
    ]

    amount_shown = _money_display("amount", "Amount")
    total_amount_shown = _money_display("total_amount", "Total amount")
    installment_amount_shown = _money_display("installment_amount", "Instalment")
    paid_amount_shown = _money_display("paid_amount", "Paid")
    outstanding_shown = _money_display("outstanding", "Outstanding")

    @admin.display(description="Customer")
    def customer_shown(self, loan: Loan) -> str:
        return admin_link(loan.customer)

    def _billing_state(self, loan: Loan):
        """The loan's billing state today (``loans.selectors``), computed once per page."""
        if getattr(loan, "_admin_state", None) is None:
            loan._admin_state = selectors.loan_billing_state(loan=loan)
        return loan._admin_state

    @admin.display(description="Missed instalments")
    def missed_shown(self, loan: Loan) -> int:
        return self._billing_state(loan).missed_installments

    @admin.display(description="Overdue")
    def overdue_shown(self, loan: Loan) -> str:
        return money(self._billing_state(loan).overdue_amount)

    @admin.display(description="Days past due")
    def days_past_due_shown(self, loan: Loan) -> int:
        return self._billing_state(loan).days_past_due

    @admin.display(description="Delinquent")
    def delinquent(self, loan: Loan) -> str:
        if self._billing_state(loan).is_delinquent:
            return "Yes: 2 or more missed instalments"
        return "No"

    @admin.display(description="Taken", ordering="taken_at")
    def taken_on(self, loan: Loan):
        return timezone.localdate(loan.taken_at) if loan.taken_at else None

    @admin.display(description="Ends", ordering="maximum_payment_date")
    def ends_on(self, loan: Loan):
        return loan.maximum_payment_date

    def get_readonly_fields(self, request, obj=None):
        shown = [f"{name}_shown" for name in MONEY_FIELDS]
        state = ["missed_shown", "overdue_shown", "days_past_due_shown", "delinquent"]
        return [field.name for field in Loan._meta.fields] + shown + ["customer_shown", *state]

    # The page shows; it never edits. Lifecycle changes go through the buttons below.
    def has_add_permission(self, request) -> bool:
        return False  # loans are created through the API, where the credit line is checked

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_lifecycle_permission(self, request: HttpRequest, obj=None) -> bool:
        """Activate and reject need the loan change permission."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/activate/", view(self.activate_view), name="loans_loan_activate"
            ),
            path("<path:object_id>/reject/", view(self.reject_view), name="loans_loan_reject"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        loan = self.get_object(request, object_id)
        can_act = (
            loan is not None
            and loan.status == Loan.Status.PENDING
            and self.has_lifecycle_permission(request, loan)
        )
        extra_context = {
            **(extra_context or {}),
            "lifecycle": can_act,
            "activate_form": ActivateForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def _lifecycle(self, request: HttpRequest, object_id: str, act) -> HttpResponseRedirect:
        loan = get_object_or_404(Loan, pk=object_id)
        if request.method != "POST" or not self.has_lifecycle_permission(request, loan):
            raise PermissionDenied
        try:
            message = act(loan)
        except ApplicationError as exc:
            self.message_user(request, f"Loan {loan.external_id}: {exc.message}", messages.ERROR)
        else:
            if message:
                self.message_user(request, message, messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:loans_loan_change", args=[loan.pk]))

    def activate_view(self, request: HttpRequest, object_id: str):
        def act(loan: Loan) -> str | None:
            form = ActivateForm(request.POST)
            if not form.is_valid():
                errors = "; ".join(m for ms in form.errors.values() for m in ms)
                self.message_user(request, f"Taken at: {errors}", messages.ERROR)
                return None
            activated = services.loan_activate(
                external_id=loan.external_id, taken_at=form.cleaned_data["taken_at"]
            )
            taken = timezone.localtime(activated.taken_at).strftime("%Y-%m-%d %H:%M")
            return f"Activated {activated.external_id}, taken at {taken}."

        return self._lifecycle(request, object_id, act)

    def reject_view(self, request: HttpRequest, object_id: str):
        def act(loan: Loan) -> str:
            rejected = services.loan_reject(external_id=loan.external_id)
            return f"Rejected {rejected.external_id}."

        return self._lifecycle(request, object_id, act)


class PortfolioCloseBandInline(ReadOnlyTabularInline):
    model = PortfolioCloseBand
    verbose_name_plural = "Active loans by days past due"
    fields = ["days_past_due", "delinquent", "loans", "outstanding_shown", "principal_shown"]
    readonly_fields = fields
    outstanding_shown = _money_display("outstanding", "Outstanding")
    principal_shown = _money_display("outstanding_principal", "Outstanding principal")
    ordering = ["days_past_due", "delinquent"]


@admin.register(PortfolioClose)
class PortfolioCloseAdmin(NoSaveButtons, admin.ModelAdmin):
    """Closed days, read only: ``manage.py close_portfolio`` writes them (loans/closing.py)."""

    list_display = [
        "day",
        "known_at",
        "closed_at",
        "time_zone",
        "delinquent_customers",
        "due_shown",
        "on_time_shown",
        "collected_shown",
    ]
    list_filter = ["time_zone"]
    date_hierarchy = "day"
    ordering = ["-day", "-known_at"]
    readonly_fields = [
        "day",
        "known_at",
        "closed_at",
        "time_zone",
        "rules",
        "delinquent_customers",
        "due_shown",
        "on_time_shown",
        "collected_shown",
    ]
    fields = readonly_fields
    inlines = [PortfolioCloseBandInline]
    due_shown = _money_display("due_amount", "Due on the day")
    on_time_shown = _money_display("collected_on_time", "Of it, paid by the day's end")
    collected_shown = _money_display("collected", "Paid on the day")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
