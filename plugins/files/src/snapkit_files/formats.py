"""Parsing JSON, JSON Lines and CSV from a stream of text lines, lazily."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from snapkit.errors import ContractError


def parse_jsonl(lines: Iterable[str], source: str) -> Iterator[dict[str, Any]]:
    """Yield one record per non-blank line; a line that is not a JSON object is an error."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ContractError(f"{source}: line {number} is not JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise ContractError(f"{source}: line {number} is not a JSON object")
        yield record


def parse_csv(lines: Iterable[str], source: str, delimiter: str = ",") -> Iterator[dict[str, Any]]:
    """Yield one record per CSV row, keyed by the header; every value is a string."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise ContractError(f"{source}: the CSV header cannot be read ({exc})") from None
    if len(set(header)) != len(header):
        raise ContractError(f"{source}: the CSV header repeats a column name")
    width = len(header)
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise ContractError(
                    f"{source}: CSV row {reader.line_num} has {len(row)} fields, "
                    f"the header has {width}"
                )
            yield dict(zip(header, row))
    except csv.Error as exc:
        raise ContractError(f"{source}: CSV line {reader.line_num}: {exc}") from None


def parse_json(text: str, source: str) -> Any:
    """Parse a whole JSON document."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{source}: not JSON ({exc.msg} at line {exc.lineno})") from None
