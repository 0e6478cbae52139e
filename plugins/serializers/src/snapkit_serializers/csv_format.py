"""CSV with one explicit dialect, written and read back.

The dialect: fields separated by ``,``; quoted with ``"`` only when a field holds the
delimiter, a quote, or a line break (``QUOTE_MINIMAL``), a quote inside a field doubled; rows
ended by ``\\r\\n`` (RFC 4180) or, with ``line_terminator = "lf"``, by ``\\n``; UTF-8 without a
byte-order mark; one header row with the column names. Cells are the text of
:func:`snapkit.parity.format_cell`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from attrs import frozen

from snapkit.errors import ContractError
from snapkit.parity import format_cell

TERMINATORS = {"crlf": "\r\n", "lf": "\n"}
_BATCH = 1000


class _Dialect(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


@frozen
class CsvSerializer:
    """Writes rows as CSV in the dialect above; reads such files back as text cells.

    :param line_terminator: ``"\\r\\n"`` or ``"\\n"``.
    """

    line_terminator: str = "\r\n"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CsvSerializer:
        """Build from ``{"line_terminator": "crlf" | "lf"}``."""
        return cls(TERMINATORS[settings.get("line_terminator", "crlf")])

    @property
    def dialect(self) -> dict[str, Any]:
        """The dialect as a Frictionless CSV dialect (for ``manifest.json``)."""
        return {
            "delimiter": ",",
            "lineTerminator": self.line_terminator,
            "quoteChar": '"',
            "doubleQuote": True,
            "header": True,
            "skipInitialSpace": False,
        }

    def write(
        self, rows: Iterable[Mapping[str, Any]], columns: Sequence[str], stream: BinaryIO
    ) -> int:
        """Write a header and ``rows`` (values by column) to ``stream``; return the row count.

        The stream is left open.
        """
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="", write_through=True)
        try:
            writer = csv.writer(text, dialect=_Dialect, lineterminator=self.line_terminator)
            writer.writerow(columns)
            count = 0
            batch: list[list[str]] = []
            for row in rows:
                batch.append([format_cell(row.get(column)) for column in columns])
                if len(batch) >= _BATCH:
                    writer.writerows(batch)
                    count += len(batch)
                    batch.clear()
            writer.writerows(batch)
            count += len(batch)
            text.flush()
        finally:
            text.detach()
        return count

    def read(self, stream: BinaryIO, columns: Sequence[str]) -> Iterator[list[str]]:
        """Yield the data rows of a file written by :meth:`write`, as text cells.

        :raises ContractError: if the header is not ``columns`` or a row has another width.
        """
        text = io.TextIOWrapper(stream, encoding="utf-8", newline="")
        try:
            reader = csv.reader(text, dialect=_Dialect)
            header = next(reader, None)
            if header != list(columns):
                raise ContractError("the CSV header does not match the dataset's columns")
            for number, row in enumerate(reader, start=2):
                if len(row) != len(columns):
                    raise ContractError(
                        f"CSV row {number} has {len(row)} cells, expected {len(columns)}"
                    )
                yield row
        finally:
            text.detach()
