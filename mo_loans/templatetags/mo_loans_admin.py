"""``{% load mo_loans_admin %}``: ``{{ amount|money }}`` as the admin shows money (5,000,000.00)."""

from django import template

from mo_loans.admin import money as format_money

register = template.Library()


@register.filter
def money(value):
    return format_money(value)
