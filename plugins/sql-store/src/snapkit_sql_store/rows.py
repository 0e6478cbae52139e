"""Snapshots, pointers and history entries as rows, and back (no connection handling here).

The listing columns of ``manifests`` are :data:`INFO_COLUMNS`; times are also kept as
microseconds since the epoch (``created_us``, ``at_us``) so that SQL can filter and order them.
Everything read back is checked: a manifest must hash to its id, a pointer row must name a
well-formed snapshot id and a generation of at least 1.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
from attrs import frozen

from snapkit import convert
from snapkit.canonical import content_id
from snapkit.contracts import (
    ErrorInfo,
    HistoryEntry,
    Pointer,
    SnapshotInfo,
    SnapshotManifest,
    parse_time,
)
from snapkit.errors import ContractError, CorruptSnapshotError, InvalidIdentifierError
from snapkit.identifiers import is_snapshot_id
from snapkit.store import pointer_trail
from snapkit_sql_store.backend import Db

_SHA256_CHARS = frozenset("0123456789abcdef")

INFO_COLUMNS = (
    "snapshot_id, created_at, status, schema_version, calculation_version, "
    "namespace, scope_id, size_bytes, error_count, part_count, record_count"
)


def check_part_hash(value: str) -> str:
    """Return ``value`` if it is a part hash (64 lowercase hex digits), else raise."""
    if not isinstance(value, str) or not is_snapshot_id(value):
        raise InvalidIdentifierError(
            f"invalid part hash {value!r}", hint="a part hash is 64 lowercase hex digits"
        )
    return value


def micros(value: str | _dt.datetime) -> int:
    """Microseconds since the epoch of an ISO time (or a datetime; naive means UTC)."""
    when = parse_time(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    delta = when - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def info_row(row: Sequence[Any]) -> SnapshotInfo:
    """A :class:`SnapshotInfo` from a row of :data:`INFO_COLUMNS`."""
    return SnapshotInfo(
        id=str(row[0]),
        created_at=str(row[1]),
        status=row[2],
        schema_version=str(row[3]),
        calculation_version=str(row[4]),
        namespace=str(row[5]),
        scope_id=str(row[6]),
        size_bytes=int(row[7]),
        error_count=int(row[8]),
        part_count=int(row[9]),
        record_count=int(row[10]),
    )


def with_became_current(
    infos: Iterable[SnapshotInfo], history: Sequence[HistoryEntry], pointer: Pointer | None
) -> list[SnapshotInfo]:
    """``infos`` with ``became_current`` set from the history, as the file store sets it.

    ``True`` when a pointer move (or the pointer itself) named the snapshot; ``False`` for a
    failed run, and for the others when the history is whole (every move since generation 1
    kept); ``None`` (unknown) for the others when moves are missing.
    """
    trail = pointer_trail(history, pointer)
    ever = set(trail.ids).union(e.snapshot_id for e in history if e.event == "pointer_moved")
    unknown: bool | None = False if trail.whole else None
    return [
        attrs.evolve(
            info,
            became_current=True
            if info.id in ever
            else (False if info.status == "failed" else unknown),
        )
        for info in infos
    ]


def check_manifest_bytes(snapshot_id: str, data: bytes) -> SnapshotManifest:
    """Parse manifest bytes and check they hash to ``snapshot_id``.

    :raises CorruptSnapshotError: if the bytes do not parse or hash to another id.
    """
    try:
        manifest = convert.parse(data, SnapshotManifest)
    except ContractError as exc:
        raise CorruptSnapshotError(
            f"manifest of snapshot {snapshot_id} cannot be read: {exc.message}",
            hint="run `snapkit snapshots verify`; the row was damaged or written by another tool",
        ) from None
    computed = content_id(convert.identity_json(manifest))
    if computed != snapshot_id:
        raise CorruptSnapshotError(
            f"manifest of snapshot {snapshot_id} hashes to {computed}: it was changed or damaged",
            hint="run `snapkit snapshots verify` and refresh to write a good snapshot",
        )
    return manifest


@frozen
class LoadedManifest:
    """A manifest read from its row, with the SHA-256 and size of its bytes."""

    manifest: SnapshotManifest
    sha256: str
    size: int


@frozen
class PointerRead:
    """The pointer row as read: the pointer, or why it cannot be used (``None``: no row)."""

    pointer: Pointer | None
    damage: str | None


def append_history(db: Db, entry: HistoryEntry) -> None:
    """Append one history row (inside the caller's transaction)."""
    errors = json.dumps(convert.to_json(entry.errors), sort_keys=True, separators=(",", ":"))
    db.execute(
        "INSERT INTO {p}history (at, at_us, event, snapshot_id, status, generation, "
        "errors) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            entry.at,
            micros(entry.at),
            entry.event,
            entry.snapshot_id,
            entry.status,
            entry.generation,
            errors,
        ),
    )


def pointer_of(row: Sequence[Any] | None) -> PointerRead:
    if row is None:
        return PointerRead(None, None)
    snapshot_id, manifest_sha, generation, updated_at = row
    if (
        not isinstance(snapshot_id, str)
        or not is_snapshot_id(snapshot_id)
        or not isinstance(manifest_sha, str)
        or len(manifest_sha) != 64
        or not set(manifest_sha) <= _SHA256_CHARS
        or not isinstance(generation, int)
        or generation < 1
    ):
        return PointerRead(None, "the pointer row names no valid snapshot")
    return PointerRead(
        Pointer(
            snapshot_id=snapshot_id,
            manifest_sha256=manifest_sha,
            generation=int(generation),
            updated_at=str(updated_at),
        ),
        None,
    )


def history_entry(row: Sequence[Any]) -> HistoryEntry:
    at, event, snapshot_id, status, generation, errors = row
    parsed = convert.from_json(json.loads(errors), tuple[ErrorInfo, ...]) if errors else ()
    return HistoryEntry(
        at=str(at),
        event=event,
        snapshot_id=str(snapshot_id),
        status=status,
        generation=None if generation is None else int(generation),
        errors=parsed,
    )
