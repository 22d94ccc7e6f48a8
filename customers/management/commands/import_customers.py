import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from customers.importing import FORMATS, MAX_ERRORS, ImportFailed, customer_import, import_format
from mo_loans.db import without_statement_timeout


class _Bar:
    """The import's progress as a tqdm bar on a terminal (nothing when not a terminal)."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.bar: tqdm | None = None

    def phase(self, name: str, total: int | None = None) -> None:
        self.close()
        options = {"unit": "B", "unit_scale": True, "unit_divisor": 1024}
        if total is None:
            options = {"bar_format": "{desc} {elapsed}"}
        self.bar = tqdm(total=total, desc=name, file=self.stream, disable=None, **options)

    def advance(self, amount: int) -> None:
        if self.bar is not None:
            self.bar.update(amount)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(BaseCommand):
    # The system checks (URLs, admin, settings) take a tenth of the command's start-up
    # and say nothing about an import; `manage.py check` and `migrate` still run them.
    requires_system_checks: list[str] = []
    help = (
        "Import customers from a CSV (header external_id,score[,preapproved_at,name,email]) "
        "or JSON (array of customer objects) file, all or nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="the .csv or .json file")
        parser.add_argument("--format", choices=FORMATS, help="the file's format (default: suffix)")
        parser.add_argument(
            "--skip-existing",
            action="store_true",
            help="import the new customers and leave those already stored as they are",
        )
        parser.add_argument(
            "--max-errors",
            type=int,
            default=MAX_ERRORS,
            help=f"how many bad lines to name at most (default {MAX_ERRORS})",
        )

    def handle(self, *args, file: Path, **options) -> None:
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            import_format(file, options["format"])
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        bar = _Bar(sys.stderr)
        try:
            with without_statement_timeout():
                result = customer_import(
                    path=file,
                    fmt=options["format"],
                    skip_existing=options["skip_existing"],
                    max_errors=max(1, options["max_errors"]),
                    progress=bar,
                )
        except ImportFailed as failed:
            bar.close()
            for line in failed.lines():
                self.stderr.write(line)
            raise CommandError(f"{file.name}: {failed}") from None
        finally:
            bar.close()
        skipped = f", skipped {result.skipped:,} already stored" if result.skipped else ""
        self.stdout.write(
            f"Imported {result.created:,} customers{skipped} from {file.name}: "
            f"{result.rows:,} rows in {result.seconds:.2f} s, {result.rows_per_second:,.0f} rows/s."
        )
