"""The contracts: immutable records that snapkit and its plugins exchange (docs/plugins.md).

Every contract is a frozen attrs class; :mod:`snapkit.convert` turns them into JSON-able data
and back, and :mod:`snapkit.schemas` derives a JSON Schema for each JSON form. Identities are
SHA-256 hashes of canonical JSON (:mod:`snapkit.canonical`).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Literal

from attrs import field, frozen

from snapkit.canonical import content_id
from snapkit.identifiers import check_name

SNAPSHOT_FORMAT = "snapkit.snapshot/1"
DIFF_FORMAT = "snapkit.diff/1"
EXPORT_FORMAT = "snapkit.export/1"

SnapshotStatus = Literal["success", "partial", "failed"]
OracleSource = Literal["cache", "loaded", "skipped_optional", "error"]
OracleOutcome = Literal["ok", "failed", "skipped_optional"]
ProjectionStatus = Literal["ready", "partial", "failed", "unavailable"]


def utc_now() -> str:
    """Return the current time as an ISO-8601 UTC string with microseconds and ``Z``."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> _dt.datetime:
    """Parse an ISO-8601 time as written by :func:`utc_now` (or any ISO form) into UTC."""
    parsed = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=_dt.UTC)
    return parsed.astimezone(_dt.UTC)


def _name(_instance: object, attribute: Any, value: str) -> None:
    check_name(value, attribute.name)


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict(value or {})


@frozen
class Scope:
    """What a snapshot is of: a namespace, a context, an optional container, and filters.

    :param namespace: the owner of the data, e.g. a district or a dashboard product.
    :param context: what inside the namespace, e.g. a class; ``None`` for all of it.
    :param container: an optional narrower unit inside the context, e.g. a grading category.
    :param filters: parameters projections read (thresholds, windows); part of the identity.
    """

    namespace: str = field(validator=_name)
    context: str | None = None
    container: str | None = None
    filters: Mapping[str, Any] = field(factory=dict, converter=_dict)

    @cached_property
    def id(self) -> str:
        """The scope's identity: SHA-256 of its canonical JSON form."""
        return content_id(
            {
                "namespace": self.namespace,
                "context": self.context,
                "container": self.container,
                "filters": dict(self.filters),
            }
        )


@frozen
class ErrorInfo:
    """One error, recorded in a snapshot or a result: a code, a message, where it came from.

    Messages name identifiers and statuses only, never payload values.
    """

    code: str
    message: str
    oracle: str | None = None


@frozen
class Timings:
    """When an oracle call started and finished (ISO UTC), how long it took, and the figures
    the oracle reported about its run (API calls, retries, ...; see ``OracleCall.report``).

    Timings live in the manifest's ``run``, which is not part of the snapshot id: the same
    data gives the same id however many calls or retries it took.
    """

    started_at: str
    finished_at: str
    duration_ms: float
    attempts: int = 1
    metrics: Mapping[str, Any] = field(factory=dict, converter=_dict)


@frozen
class PartRef:
    """A large payload stored as a record stream, addressed by its SHA-256.

    :param name: the part's name inside the snapshot (the oracle's table name).
    :param sha256: SHA-256 of the part's canonical JSON Lines bytes (uncompressed).
    :param records: how many records it holds.
    :param bytes: size of the canonical JSON Lines bytes.
    :param oracle: the oracle that produced it.
    :param key_column: the field that identifies a record, if the oracle declares one.
    """

    name: str = field(validator=_name)
    sha256: str
    records: int
    bytes: int
    oracle: str
    key_column: str | None = None


@frozen
class OracleResult:
    """The envelope of one oracle call (docs/plugins.md): who, for what, how it went, and the
    payload.

    Exactly one of ``payload`` (a small JSON value) and ``part`` (a record stream already
    written to the store) is set when ``status`` is ``ok``.
    """

    oracle: str
    version: str
    scope_id: str
    request_token: str | None
    status: OracleOutcome
    source: OracleSource
    payload: Any = None
    part: PartRef | None = None
    error: ErrorInfo | None = None
    timings: Timings | None = None


@frozen
class OracleStatus:
    """How one oracle fared in a refresh, as recorded in the snapshot manifest."""

    key: str
    version: str
    status: OracleOutcome
    source: OracleSource
    optional: bool = False
    error: ErrorInfo | None = None


@frozen
class RunInfo:
    """Facts about the run that produced a snapshot; not part of the snapshot's identity."""

    started_at: str
    finished_at: str
    duration_ms: float
    timings: Mapping[str, Timings] = field(factory=dict, converter=_dict)


@frozen
class SnapshotManifest:
    """An immutable snapshot: what it is of, how it went, and its content.

    The snapshot id is the SHA-256 of the canonical JSON of the manifest without
    ``created_at`` and ``run``: the same data gives the same id whenever it was captured.
    """

    scope: Scope
    schema_version: str
    calculation_version: str
    status: SnapshotStatus
    errors: tuple[ErrorInfo, ...] = ()
    oracles: tuple[OracleStatus, ...] = ()
    payloads: Mapping[str, Any] = field(factory=dict, converter=_dict)
    parts: tuple[PartRef, ...] = ()
    created_at: str = field(factory=utc_now)
    run: RunInfo | None = None
    format: str = SNAPSHOT_FORMAT

    @cached_property
    def id(self) -> str:
        """The snapshot id: SHA-256 of the canonical identity form (capture time excluded)."""
        from snapkit.convert import identity_json

        return content_id(identity_json(self))

    def part(self, name: str) -> PartRef:
        """Return the part called ``name``.

        :raises KeyError: if the snapshot has no such part.
        """
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    def oracle_status(self, key: str) -> OracleStatus | None:
        """Return the status of oracle ``key`` in this snapshot, or ``None``."""
        for status in self.oracles:
            if status.key == key:
                return status
        return None


@frozen
class SnapshotInfo:
    """A snapshot's metadata as listings show it (docs/snapshots.md).

    ``became_current`` says whether the current pointer has ever named the snapshot (per the
    store's history): ``False`` for a failed run, a ``partial`` that did not move the pointer
    or a ``success`` that lost the compare-and-swap to another commit; ``None`` when the
    lister did not say (metadata written before the field existed).
    """

    id: str
    created_at: str
    status: SnapshotStatus
    schema_version: str
    calculation_version: str
    namespace: str
    scope_id: str
    size_bytes: int
    error_count: int
    part_count: int
    record_count: int
    became_current: bool | None = None


@frozen
class Pointer:
    """The current pointer: which snapshot is current, its manifest hash, and a generation.

    A commit moves the pointer only if the generation is still the one it read.
    """

    snapshot_id: str
    manifest_sha256: str
    generation: int
    updated_at: str


@frozen
class HistoryEntry:
    """One line of a store's append-only history: a pointer move or a failed run."""

    at: str
    event: Literal["pointer_moved", "refresh_failed", "snapshot_recorded"]
    snapshot_id: str
    status: SnapshotStatus
    generation: int | None = None
    errors: tuple[ErrorInfo, ...] = ()


@frozen
class ProjectionResult:
    """The outcome of deriving one projection from a snapshot (docs/plugins.md)."""

    key: str
    status: ProjectionStatus
    reason: str | None = None
    value: Any = None
    oracles: tuple[str, ...] = ()
    message: str | None = None


@frozen
class ExportResource:
    """One file of an export, as listed in ``manifest.json`` (a Frictionless resource)."""

    name: str
    path: str
    dataset: str
    format: str
    mediatype: str
    rows: int
    bytes: int
    hash: str
    status: Literal["complete", "partial"]
    policy: Literal["fail_closed", "allow_partial_with_manifest"]
    reason: str | None = None


@frozen
class OmittedDataset:
    """A dataset left out of an export, and why (a reason code)."""

    dataset: str
    reason: str


@frozen
class ExportManifest:
    """``manifest.json`` of an export ZIP: files, omissions, snapshot id, parity fingerprints."""

    name: str
    profile: str
    snapshot_id: str
    resources: tuple[ExportResource, ...] = ()
    omitted: tuple[OmittedDataset, ...] = ()
    parity: Mapping[str, str] = field(factory=dict, converter=_dict)
    format: str = EXPORT_FORMAT


@frozen
class DiffSection:
    """One named section of a diff: counts of what changed, the changes, a truncation flag."""

    name: str
    added: int = 0
    removed: int = 0
    changed: int = 0
    truncated: bool = False
    data: Any = None


@frozen
class Diff:
    """What changed between two snapshots, one entry per section, in section-name order."""

    from_id: str
    to_id: str
    sections: tuple[DiffSection, ...] = ()
    format: str = DIFF_FORMAT
