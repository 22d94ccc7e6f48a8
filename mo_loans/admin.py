"""The admin's branding and the display helpers every app's admin shares."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

admin.site.site_header = "MO Loans"
admin.site.site_title = "MO Loans"
admin.site.index_title = "Operations"
# The app list on every page takes a third of a laptop screen from the lists.
admin.site.enable_nav_sidebar = False

# A read-only inline without the "<object> #<n>" caption Django puts above each row.
READONLY_TABULAR_TEMPLATE = "admin/mo_loans/tabular_readonly.html"


def money(value: Decimal | None) -> str:
    """``Decimal("5000000")`` → ``"5,000,000.00"``; ``None`` → ``"-"``."""
    if value is None:
        return "-"
    return f"{value:,.2f}"


def admin_link(obj, text: str | None = None) -> str:
    """A link to ``obj``'s admin change page."""
    if obj is None:
        return "-"
    opts = obj._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, text or str(obj))


def changelist_link(model, text: str, **filters) -> str:
    """A link to ``model``'s admin list, filtered (``customer__id__exact=…``)."""
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    return format_html('<a href="{}?{}">{}</a>', url, query, text)


class NoSaveButtons:
    """For an admin page that only shows: no Save, Save and continue or Delete buttons."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_delete": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline that only shows its rows: none added, changed or deleted, no captions."""

    template = READONLY_TABULAR_TEMPLATE
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
