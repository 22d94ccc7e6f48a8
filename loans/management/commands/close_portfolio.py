"""``manage.py close_portfolio``: close the days that have ended since the last run."""

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from loans.closing import days_to_close, portfolio_close
from mo_loans.core.exceptions import ApplicationError
from mo_loans.db import without_statement_timeout


class Command(BaseCommand):
    help = (
        "Store the portfolio figures of past days (default: every day since the newest "
        "closed one, to yesterday), so that reads of them take milliseconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--from",
            dest="since",
            type=date.fromisoformat,
            help="Close (again) every day from this date (YYYY-MM-DD) to yesterday.",
        )
        parser.add_argument(
            "--day",
            dest="days",
            action="append",
            type=date.fromisoformat,
            default=[],
            help="Close (again) this day only; may be repeated.",
        )

    def handle(self, *args, since=None, days=(), **options):
        days = list(days) or days_to_close(since=since)
        started = time.monotonic()
        try:
            with without_statement_timeout():  # a whole book's reads, on purpose
                closes = portfolio_close(days=days)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        took = time.monotonic() - started
        if not closes:
            self.stdout.write("Nothing to close.")
            return
        self.stdout.write(
            f"Closed {len(closes)} day(s), {closes[0].day} to {closes[-1].day}, as known at "
            f"{closes[0].known_at.isoformat()} ({took:.1f} s)."
        )
