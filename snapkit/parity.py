"""Parity between what a UI shows and what an export carries (docs/export.md).

One number formatter, :func:`format_cell`, turns every value a projection hands to a view into
text: the CSV serializer writes exactly these cells and a UI that shows a projection uses the
same function, so both carry the same digits. :func:`normalize_value` applies the same rounding
while keeping numbers numeric (for JSON Lines).

A *table fingerprint* is the SHA-256 of a table's formatted cells, header first, one canonical
JSON array per row. A *projection fingerprint* combines the table fingerprints of every dataset
built from that projection. The export writes the projection fingerprints into
``manifest.json``; :func:`fingerprint` recomputes them from projection values alone, and the
export's parity check recomputes them from the files in the ZIP, so any drift between the
numbers a projection holds and the bytes a file holds shows up as a mismatch.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from snapkit.canonical import canonical_str

DECIMALS = 4
"""Floats are rounded to this many decimal places, everywhere a number is shown."""

FINGERPRINT_PREFIX = "sha256:"

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def format_number(value: int | float) -> str:
    """Return the one text form of a number: integers as is, floats rounded to
    :data:`DECIMALS` places without trailing zeros (``80.0`` -> ``"80"``, ``1/3`` ->
    ``"0.3333"``), negative zero as ``"0"``.

    :raises ValueError: for NaN and infinity, which no view can show faithfully.
    """
    if isinstance(value, bool):
        raise TypeError("a bool is not a number here")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValueError("NaN and infinity cannot be formatted")
    text = f"{round(value, DECIMALS):.{DECIMALS}f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def format_cell(value: Any) -> str:
    """Return the text of one cell: ``None`` -> ``""``, booleans -> ``"true"``/``"false"``,
    numbers through :func:`format_number`, strings unchanged, anything else as canonical JSON.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return format_number(value)
    return canonical_str(value)


def normalize_value(value: Any) -> Any:
    """Return ``value`` with floats rounded exactly as :func:`format_cell` rounds them, so
    that ``format_cell(normalize_value(v)) == format_cell(v)`` for every value."""
    if isinstance(value, float):
        text = format_number(value)
        return float(text)
    return value


class TableHasher:
    """Builds a table fingerprint row by row (memory does not grow with the table)."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.rows = 0
        self._hash = hashlib.sha256()
        self._hash.update(_ENCODE(list(self.columns)).encode("utf-8") + b"\n")

    def add(self, cells: Sequence[str]) -> None:
        """Add one row of formatted cells (in column order)."""
        self._hash.update(_ENCODE(list(cells)).encode("utf-8") + b"\n")
        self.rows += 1

    def add_row(self, row: Mapping[str, Any]) -> list[str]:
        """Format ``row`` (a mapping by column) and add it; return the cells."""
        cells = [format_cell(row.get(column)) for column in self.columns]
        self.add(cells)
        return cells

    def hexdigest(self) -> str:
        """The table fingerprint, ``sha256:<hex>``."""
        return FINGERPRINT_PREFIX + self._hash.hexdigest()


def table_fingerprint(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Return the fingerprint of a table given as row mappings (formatted by
    :func:`format_cell`)."""
    hasher = TableHasher(columns)
    for row in rows:
        hasher.add_row(row)
    return hasher.hexdigest()


def combine(tables: Mapping[str, str]) -> str:
    """Return a projection fingerprint from the table fingerprints of its datasets, by file
    path (the order of ``tables`` does not matter)."""
    return (
        FINGERPRINT_PREFIX + hashlib.sha256(canonical_str(dict(tables)).encode("utf-8")).hexdigest()
    )


def projection_fingerprints(
    tables: Mapping[str, str], uses: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Return one fingerprint per projection.

    :param tables: table fingerprint by dataset file path.
    :param uses: for each dataset file path, the projections it is built from.
    """
    by_projection: dict[str, dict[str, str]] = {}
    for path, projections in uses.items():
        if path not in tables:
            continue
        for key in projections:
            by_projection.setdefault(key, {})[path] = tables[path]
    return {key: combine(paths) for key, paths in sorted(by_projection.items())}


@frozen
class ParityMismatch:
    """One projection whose fingerprints differ (or that one side lacks)."""

    projection: str
    expected: str | None
    actual: str | None


@frozen
class ParityReport:
    """The outcome of comparing two sets of projection fingerprints."""

    matched: tuple[str, ...]
    mismatches: tuple[ParityMismatch, ...] = ()

    @property
    def ok(self) -> bool:
        """``True`` when every projection matched."""
        return not self.mismatches


def compare(expected: Mapping[str, str], actual: Mapping[str, str]) -> ParityReport:
    """Compare projection fingerprints; a projection on one side only is a mismatch."""
    matched: list[str] = []
    mismatches: list[ParityMismatch] = []
    for key in sorted(set(expected) | set(actual)):
        left, right = expected.get(key), actual.get(key)
        if left is not None and left == right:
            matched.append(key)
        else:
            mismatches.append(ParityMismatch(key, left, right))
    return ParityReport(tuple(matched), tuple(mismatches))
