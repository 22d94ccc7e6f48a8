from django.apps import AppConfig
from django.urls import register_converter

from mo_loans.ids import ExternalIdConverter


class MoLoansConfig(AppConfig):
    """The project itself, as an app: it owns the cross-cutting commands and models."""

    name = "mo_loans"
    verbose_name = "MO Loans"

    def ready(self) -> None:
        # <id:external_id> in the apps' URL patterns: a segment in the id alphabet.
        register_converter(ExternalIdConverter, "id")
        # drf-spectacular extensions register when their module is imported; so do
        # the signal receivers that forget cached API keys (mo_loans.api.api_keys).
        # These modules use models, so only once the app registry is ready.
        from mo_loans.api import api_keys, auth, schema  # noqa: F401, PLC0415
