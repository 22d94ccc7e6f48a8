from datetime import timedelta

from django.core.management.base import BaseCommand

from mo_loans.api.idempotency import prune_idempotency_keys


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than the TTL (default 24 hours)."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=None,
            help="default: IDEMPOTENCY_KEY_TTL_HOURS",
        )

    def handle(self, *args, older_than_hours: float | None, **options) -> None:
        older_than = timedelta(hours=older_than_hours) if older_than_hours is not None else None
        deleted = prune_idempotency_keys(older_than=older_than)
        self.stdout.write(f"Deleted {deleted} idempotency key(s).")
