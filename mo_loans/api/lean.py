"""Output serializers that render rows without rebuilding DRF fields for every object.

DRF's ``ModelSerializer`` builds (and deep-copies) its fields for every
serializer it makes, and renders each value through the generic field
machinery: a loan costs ~2 ms of fields before its first value, a page of 50
rows ~16 ms. :class:`LeanOutputMixin` keeps the serializer class as it is (the
OpenAPI schema reads it unchanged) but renders from a *plan* built once per
class: for each field its name, how to read its value and how to write it.

Exact output is kept: values are rendered by the very field objects DRF would
use (money by ``MoneyField.to_representation``, so the decimal strings are
the same), except for a few kinds whose DRF rendering is reproduced here
without the per-value overhead: plain attribute reads, ``CharField`` (``str``),
``IntegerField`` (``int``), ISO 8601 ``DateTimeField`` (in the current time
zone, ``Z`` for UTC) and ``DateField``. tests/mo_loans/test_lean_output.py
compares both renderings field by field.

Only for serializers whose fields do not depend on the instance or the
context (no ``get_fields`` override, no hyperlinks): the plan is shared by
every request and thread.
"""

from __future__ import annotations

import datetime
import decimal
import operator
from collections.abc import Callable
from typing import Any

from django.utils import timezone
from rest_framework import ISO_8601, fields, serializers
from rest_framework.relations import PKOnlyObject
from rest_framework.settings import api_settings

_SKIP = object()

Step = tuple[str, Callable[[Any, Any], Any]]  # (field name, render(instance, time zone))


def _reader(field: fields.Field, model) -> Callable[[Any], Any] | None:
    """A fast attribute read for a plain (dotted) source of model data, else None."""
    attrs = field.source_attrs
    if field.source == "*" or not attrs:
        return None
    if model is not None and len(attrs) == 1:
        names = {f.name for f in model._meta.concrete_fields} | {
            f.attname for f in model._meta.concrete_fields
        }
        if attrs[0] not in names:
            return None
    elif model is None and len(attrs) == 1:
        return None  # a plain object's attribute may be a callable: DRF calls it
    return operator.attrgetter(".".join(attrs))


def _writer(field: fields.Field) -> Callable[[Any, Any], Any]:
    """``field.to_representation`` or an equivalent without its per-value overhead."""
    kind = type(field).to_representation
    if kind is fields.CharField.to_representation:
        return lambda value, tz: str(value)
    if kind is fields.IntegerField.to_representation:
        return lambda value, tz: int(value)
    if kind is fields.DateTimeField.to_representation and not hasattr(field, "timezone"):
        output = getattr(field, "format", api_settings.DATETIME_FORMAT)
        if isinstance(output, str) and output.lower() == ISO_8601:
            return _iso_datetime
    if kind is fields.DecimalField.to_representation:
        return _decimal_writer(field)
    if kind is fields.DateField.to_representation:
        output = getattr(field, "format", api_settings.DATE_FORMAT)
        if isinstance(output, str) and output.lower() == ISO_8601:
            return _iso_date
    return lambda value, tz: field.to_representation(value)


def _decimal_writer(field: fields.DecimalField) -> Callable[[Any, Any], Any]:
    """A value that already has the field's places renders as ``f"{value:f}"`` (DRF's
    quantize leaves it as it is); anything else goes through the field."""
    coerce = getattr(field, "coerce_to_string", api_settings.COERCE_DECIMAL_TO_STRING)
    places, digits = field.decimal_places, field.max_digits
    if not coerce or field.localize or field.normalize_output or places is None:
        return lambda value, tz: field.to_representation(value)

    def write(value, tz):
        if type(value) is decimal.Decimal:
            _sign, coefficient, exponent = value.as_tuple()
            if exponent == -places and (digits is None or len(coefficient) <= digits):
                return f"{value:f}"
        return field.to_representation(value)

    return write


def _iso_datetime(value, tz):
    if not value:
        return None
    if isinstance(value, str):
        return value
    if tz is None or not timezone.is_aware(value):
        return fields.DateTimeField().to_representation(value)  # the rare case: DRF's own
    text = value.astimezone(tz).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _iso_date(value, tz):
    if not value:
        return None
    if isinstance(value, (str, datetime.datetime)):
        return fields.DateField().to_representation(value)
    return value.isoformat()


def _step(field: fields.Field, model) -> Step:
    read = _reader(field, model)
    write = _writer(field)
    if read is None:

        def render(instance, tz):
            try:
                attribute = field.get_attribute(instance)
            except fields.SkipField:
                return _SKIP
            check = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
            return None if check is None else write(attribute, tz)

    else:

        def render(instance, tz):
            try:
                attribute = read(instance)
            except AttributeError:  # e.g. a null relation on the way: DRF's own handling
                try:
                    attribute = field.get_attribute(instance)
                except fields.SkipField:
                    return _SKIP
            return None if attribute is None else write(attribute, tz)

    return field.field_name, render


class LeanOutputMixin:
    """Render with a plan built once per serializer class (see the module docstring)."""

    @classmethod
    def lean_plan(cls) -> tuple[Step, ...]:
        plan = cls.__dict__.get("_lean_plan")
        if plan is None:
            prototype = cls()
            model = getattr(getattr(cls, "Meta", None), "model", None)
            plan = tuple(_step(field, model) for field in prototype._readable_fields)
            cls._lean_plan = plan
        return plan

    def to_representation(self, instance) -> dict[str, Any]:
        tz = timezone.get_current_timezone()
        data = {}
        for name, render in self.lean_plan():
            value = render(instance, tz)
            if value is not _SKIP:
                data[name] = value
        return data


def drf_representation(serializer: serializers.Serializer, instance) -> dict:
    """What DRF's own ``Serializer.to_representation`` gives (tests compare both)."""
    return serializers.Serializer.to_representation(serializer, instance)
