"""Reading an import file: CSV as raw bytes or record by record, JSON element by element.

Nothing here touches the database. The CSV format is :mod:`customers.parsers`'
(the bulk endpoint reads it the same way); a record comes with the line it
starts on, a JSON element with its number from 1.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import ijson

from customers.importing.results import ImportFailed, LineError, Progress
from customers.parsers import csv_columns, csv_header_errors, csv_record

CHUNK = 1 << 20  # bytes per read of the raw CSV
PROGRESS_EVERY = 10_000  # records between two progress updates of a record-by-record read

# A record, numbered: (line or element number, the row as parsed).
Record = tuple[int, Any]


def csv_header(path: Path) -> tuple[list[str], int]:
    """The header's columns and the byte offset where the records start."""
    with path.open("rb") as file:
        first = file.readline()
        start = file.tell()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFailed([LineError(1, "", "The header is not UTF-8.")], total=1) from None
    header = next(csv.reader([text]), [])
    errors = csv_header_errors(header)
    if errors:
        raise ImportFailed([LineError(1, "", e) for e in errors], total=len(errors))
    return csv_columns(header), start


@dataclass
class CsvBytes:
    """The records of a CSV file as raw chunks (for ``COPY``), and what was seen in them."""

    path: Path
    start: int
    quoted: bool = False  # a quote: a record may span lines, so line numbers may be off
    end_marker: bool = False  # a line holding only \. would end COPY's input early

    def chunks(self, progress: Progress) -> Iterator[bytes]:
        with self.path.open("rb") as file:
            file.seek(self.start)
            progress.advance(self.start)
            previous = b""
            while chunk := file.read(CHUNK):
                self.quoted = self.quoted or b'"' in chunk
                self.end_marker = self.end_marker or b"\\." in previous + chunk
                yield chunk
                progress.advance(len(chunk))
                previous = chunk[-1:]


def csv_records(path: Path, columns: list[str], progress: Progress) -> Iterator[Record]:
    """Each CSV record with the line it starts on: the slow, exact reading."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as file:
        reader = csv.reader(file)
        next(reader, None)
        last_line, done = reader.line_num, file.buffer.tell()
        try:
            for count, values in enumerate(reader, start=1):
                line, last_line = last_line + 1, reader.line_num
                if values:
                    yield line, csv_record(columns, values)
                if count % PROGRESS_EVERY == 0:
                    progress.advance(file.buffer.tell() - done)
                    done = file.buffer.tell()
        except csv.Error as exc:
            raise ImportFailed(
                [LineError(last_line + 1, "", f"Unreadable CSV: {exc}.")], total=1
            ) from exc
        progress.advance(file.buffer.tell() - done)


def json_records(file: BinaryIO, progress: Progress) -> Iterator[Record]:
    """Each element of the top-level JSON array, numbered from 1."""
    head = file.read(64).lstrip(b"\xef\xbb\xbf \t\r\n")
    file.seek(0)
    if not head.startswith(b"["):
        raise ImportFailed(
            [LineError(1, "", "The file must hold a JSON array of customer objects.")],
            total=1,
            unit="record",
        )
    number, done = 0, 0
    try:
        for item in ijson.items(file, "item", use_float=False):
            number += 1
            yield number, item
            if number % PROGRESS_EVERY == 0:
                progress.advance(file.tell() - done)
                done = file.tell()
    except ijson.JSONError as exc:
        raise ImportFailed(
            [LineError(number + 1, "", f"Malformed JSON: {exc}")], total=1, unit="record"
        ) from exc
    progress.advance(file.tell() - done)
