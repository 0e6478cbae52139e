"""Integrity checks a table passes before it is committed: keys, and how much it shrank.

A table whose oracle declares a ``key_column`` must give every record a key, and no key twice:
a diff matches rows by key and a search by key finds one row. A table must not lose more than
``refresh.max_shrink`` of the records it had in the current snapshot (an empty answer from a
source is more often an outage than a real deletion), unless ``refresh.allow_shrink`` names it.

Messages name the table, the field and record positions (counted from 0), never a value.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from snapkit.canonical import canonical_str
from snapkit.errors import IntegrityError

BOM = "\ufeff"


def check_keys(records: Iterable[Any], table: str, key_column: str) -> Iterator[Any]:
    """Yield ``records`` unchanged, raising :class:`IntegrityError` at the first record
    without a key (absent or ``null``) and at the first key seen twice.

    Keys are told apart as a diff tells them apart: ``1``, ``1.0``, ``"1"`` and ``true`` are
    four keys. Memory: one entry per distinct key.
    """
    # one table per key type, so that 1 and "1" differ without a tuple per key
    strings: dict[Any, int] = {}
    integers: dict[Any, int] = {}
    others: dict[Any, int] = {}
    for position, record in enumerate(records):
        if isinstance(record, dict):
            key = record.get(key_column)
            kind = key.__class__
            if kind is str:
                seen = strings
            elif kind is int:
                seen = integers
            elif key is None:
                raise _missing(record, position, table, key_column)
            else:
                seen, key = others, canonical_str(key)
            first = seen.setdefault(key, position)
            if first != position:
                raise IntegrityError(
                    f"table {table!r}: record {position} repeats the key of record {first} "
                    f"(key field {key_column!r})",
                    reason="duplicate_key",
                    hint="a keyed table needs a unique key per record; fix the source, or "
                    "declare the field that identifies a record as its key_column",
                )
        yield record


def _missing(record: dict[str, Any], position: int, table: str, key_column: str) -> IntegrityError:
    if BOM + key_column in record:
        hint = (
            f"its field is named {BOM + key_column!r}: the source starts with a UTF-8 "
            "byte-order mark; save it without one or have the oracle strip it"
        )
    elif key_column in record:
        hint = "every record needs a key; fix the source"
    else:
        hint = "check the oracle's key_column against the source's field names"
    what = "a null key" if key_column in record else "no key field"
    return IntegrityError(
        f"table {table!r}: record {position} has {what} {key_column!r}",
        reason="missing_key",
        hint=hint,
    )


def shrink_problem(table: str, before: int, after: int, max_shrink: float) -> str | None:
    """Return why a table going from ``before`` to ``after`` records shrank too much, or
    ``None``: it may lose at most ``max_shrink`` (a fraction, 0 to 1) of its records."""
    if before <= 0 or after >= before:
        return None
    lost = (before - after) / before
    if lost <= max_shrink:
        return None
    if after == 0:
        return f"table {table!r} would go from {before} records to none"
    return (
        f"table {table!r} would shrink from {before} to {after} records "
        f"({lost:.0%} fewer; at most {max_shrink:.0%} allowed)"
    )


def check_shrink(table: str, key: str, before: int | None, after: int, max_shrink: float) -> None:
    """Raise :class:`IntegrityError` if the table shrank past ``max_shrink``.

    :param before: its record count in the current snapshot (``None``: no such table).
    :param key: the oracle's key, for the hint.
    """
    if before is None:
        return
    problem = shrink_problem(table, before, after, max_shrink)
    if problem is not None:
        raise IntegrityError(
            problem,
            reason="table_shrank",
            hint=f"if the source really lost them, run 'snapkit refresh --allow-shrink {key}' "
            f"once, or add {key!r} to refresh.allow_shrink (the threshold is "
            "refresh.max_shrink)",
        )
