from django.apps import AppConfig


class MoLoansConfig(AppConfig):
    """The project itself, as an app: it owns the cross-cutting commands and models."""

    name = "mo_loans"
    verbose_name = "MO Loans"

    def ready(self) -> None:
        # drf-spectacular extensions register when their module is imported.
        from mo_loans.api import auth, schema  # noqa: F401
