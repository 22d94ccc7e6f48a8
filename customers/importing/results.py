"""What an import gives back: its result, its failure, and how it reports progress."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LineError:
    line: int
    field: str
    message: str


@dataclass(frozen=True)
class ImportResult:
    rows: int
    created: int
    skipped: int
    seconds: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


class ImportFailed(Exception):
    """Nothing was stored. ``errors`` are the first ones, ``total`` counts them all."""

    def __init__(self, errors: list[LineError], *, total: int, unit: str = "line") -> None:
        self.errors = errors
        self.total = total
        self.unit = unit
        super().__init__(f"{total} error{'s' if total != 1 else ''}; nothing was imported.")

    def lines(self) -> list[str]:
        """The errors, one readable line each, and how many more there are."""
        out = [
            f"{self.unit} {e.line}" + (f", {e.field}" if e.field else "") + f": {e.message}"
            for e in self.errors
        ]
        if self.total > len(self.errors):
            out.append(f"… and {self.total - len(self.errors)} more.")
        return out


class Progress(Protocol):
    def phase(self, name: str, total: int | None = None) -> None: ...

    def advance(self, amount: int) -> None: ...


class NoProgress:
    def phase(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass
