"""JSON Lines: one JSON object per row, keys in column order, UTF-8, ``\\n`` after each line.

Numbers are written as numbers, already rounded by the export with
:func:`snapkit.parity.normalize_value`; reading back formats each value with
:func:`snapkit.parity.format_cell`, which gives the same cells as the CSV serializer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from snapkit.errors import ContractError
from snapkit.parity import format_cell

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class JsonLinesSerializer:
    """Writes rows as JSON Lines; reads such files back as text cells."""

    def write(
        self, rows: Iterable[Mapping[str, Any]], columns: Sequence[str], stream: BinaryIO
    ) -> int:
        """Write ``rows`` (values by column) to ``stream``; return the row count."""
        count = 0
        for row in rows:
            stream.write(
                _ENCODE({column: row.get(column) for column in columns}).encode("utf-8") + b"\n"
            )
            count += 1
        return count

    def read(self, stream: BinaryIO, columns: Sequence[str]) -> Iterator[list[str]]:
        """Yield the rows of a file written by :meth:`write`, as text cells.

        :raises ContractError: if a line is not a JSON object.
        """
        for number, line in enumerate(stream, start=1):
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ContractError(f"JSON Lines line {number} is not an object")
            yield [format_cell(record.get(column)) for column in columns]
