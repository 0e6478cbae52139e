"""What the store reads back, checked: manifests, the pointer object, part names, listings.

Pure functions and frozen records, no requests: a manifest's bytes must parse and hash to its
id, a pointer object must parse and name a well-formed id at a generation of at least 1, a
part reference must be a SHA-256; listings are filtered here.
"""

from __future__ import annotations

import datetime as _dt

from attrs import frozen

from snapkit import convert
from snapkit.canonical import content_id
from snapkit.contracts import Pointer, SnapshotInfo, SnapshotManifest, parse_time
from snapkit.errors import ContractError, CorruptSnapshotError, InvalidIdentifierError
from snapkit.store import ListFilter

_HEX = frozenset("0123456789abcdef")


class CommitOutcomeUnknown(Exception):
    """A write was sent and no answer came back (the connection dropped, a timeout)."""


def check_part_hash(sha256: str) -> str:
    """Return ``sha256`` if it is 64 lowercase hex digits, else raise InvalidIdentifierError."""
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise InvalidIdentifierError(
            f"part reference {sha256!r} is not a SHA-256 (64 lowercase hex digits)",
            hint="part references come from a snapshot manifest's parts",
        )
    return sha256


@frozen
class LoadedManifest:
    """A manifest as read from the store, with the SHA-256 and size of its bytes."""

    manifest: SnapshotManifest
    sha256: str
    size: int


@frozen
class PointerRead:
    """The pointer object as read: the pointer (or ``None``), why it is unusable, its ETag."""

    pointer: Pointer | None
    damage: str | None
    etag: str | None


def check_manifest_bytes(snapshot_id: str, data: bytes) -> SnapshotManifest:
    """Parse manifest bytes and check they hash to ``snapshot_id``."""
    try:
        manifest = convert.parse(data, SnapshotManifest)
    except ContractError as exc:
        raise CorruptSnapshotError(
            f"manifest of snapshot {snapshot_id} cannot be read: {exc.message}",
            hint="run `snapkit snapshots verify`; the object was damaged or written by "
            "another tool",
        ) from None
    computed = content_id(convert.identity_json(manifest))
    if computed != snapshot_id:
        raise CorruptSnapshotError(
            f"manifest of snapshot {snapshot_id} hashes to {computed}: it was changed or damaged",
            hint="run `snapkit snapshots verify` and refresh to write a good snapshot",
        )
    return manifest


def parse_pointer(body: bytes, etag: str | None) -> PointerRead:
    """Check a pointer object's bytes (they must parse and name a well-formed id)."""
    try:
        pointer = convert.parse(body, Pointer)
    except ContractError:
        return PointerRead(None, "the pointer object cannot be parsed", etag)
    if (
        len(pointer.snapshot_id) != 64
        or not set(pointer.snapshot_id) <= _HEX
        or pointer.generation < 1
    ):
        return PointerRead(None, "the pointer object names no valid snapshot", etag)
    return PointerRead(pointer, None, etag)


def after(at: str) -> str:
    moment = parse_time(at) + _dt.timedelta(microseconds=1)
    return str(moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def _utc(moment: _dt.datetime) -> _dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def select(
    rows: list[SnapshotInfo], filters: ListFilter | None, limit: int | None
) -> list[SnapshotInfo]:
    if filters is None:
        filters = ListFilter()
    since = _utc(filters.since) if filters.since else None
    until = _utc(filters.until) if filters.until else None
    out: list[SnapshotInfo] = []
    for info in rows:
        if limit is not None and len(out) >= limit:
            break
        if filters.status and info.status not in filters.status:
            continue
        if filters.namespace is not None and info.namespace != filters.namespace:
            continue
        if filters.scope_id is not None and info.scope_id != filters.scope_id:
            continue
        created = parse_time(info.created_at)
        if since is not None and created < since:
            continue
        if until is not None and created >= until:
            continue
        out.append(info)
    return out
