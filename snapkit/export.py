"""The export engine (docs/export.md): a snapshot bundle in, a deterministic ZIP out.

Export only *transforms*: it takes a :class:`SnapshotBundle` (the snapshot's manifest and the
projection results already derived from it) and never calls an oracle, a store or a query.
For an export profile it takes the profile's datasets from the registry, in file-name order,
and for each one:

1. checks the statuses of the projections it needs against its failure policy;
2. builds its rows from the projection values (the dataset plugin's ``rows(projections)``),
   rounds numbers with the shared formatter (:mod:`snapkit.parity`) and hands them to its
   serializer plugin, which writes the file;
3. records the file in ``manifest.json`` (rows, bytes, ``sha256:`` hash, status, policy,
   reason) and its table fingerprint for parity.

Failure policies: ``fail_closed`` aborts the whole export with :class:`ExportError` and a
deterministic reason code; ``allow_partial_with_manifest`` leaves the dataset out (listed under
``omitted`` with the reason) or writes it marked ``partial``. A dataset without rows is left out
and listed with reason ``empty``, whatever its policy.

Reason codes: ``unknown_profile``, ``required_projection_failed``,
``required_projection_unavailable``, ``required_projection_partial`` (fail_closed only; an
allow-partial dataset is written as ``partial``), ``required_projection_missing`` (not in the
bundle), ``optional_projection_missing`` (the file is ``partial``), ``unknown_serializer``,
``dataset_error`` (building rows raised), ``serializer_error`` (writing the file raised),
``empty``, ``zip_error`` (writing the archive failed), ``invalid_export`` (parity check: the
ZIP cannot be read).

The ZIP is byte-identical for the same bundle and profile (:mod:`snapkit.exportzip`), and
``manifest.json`` is a Frictionless data package (``$schema`` of Data Package v2) carrying the
snapshot id, the profile and one parity fingerprint per projection.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO, Literal

from attrs import field, frozen

from snapkit import events
from snapkit.contracts import (
    ExportManifest,
    ExportResource,
    OmittedDataset,
    ProjectionResult,
    SnapshotManifest,
)
from snapkit.descriptors import DatasetDescriptor, Descriptor, SerializerDescriptor
from snapkit.errors import ExportError, UnknownKeyError
from snapkit.parity import (
    ParityReport,
    TableHasher,
    compare,
    format_cell,
    normalize_value,
    projection_fingerprints,
)

log = logging.getLogger("snapkit.export")

MANIFEST_NAME = "manifest.json"
DATA_PACKAGE_SCHEMA = "https://datapackage.org/profiles/2.0/datapackage.json"

SettingsFn = Callable[[Descriptor], Mapping[str, Any]]
ExportStatus = Literal["complete", "partial"]


@frozen
class SnapshotBundle:
    """What an export transforms: a snapshot's manifest and its derived projections.

    :param manifest: the snapshot (only its id and scope are read).
    :param projections: projection results by key.
    """

    manifest: SnapshotManifest
    projections: Mapping[str, ProjectionResult] = field(factory=dict, converter=dict)

    @classmethod
    def from_projection_set(cls, manifest: SnapshotManifest, projections: Any) -> SnapshotBundle:
        """Build a bundle from a :class:`snapkit.projection.ProjectionSet`."""
        return cls(manifest, projections.results)

    @property
    def snapshot_id(self) -> str:
        """The snapshot's id."""
        return self.manifest.id


@frozen
class ExportOutcome:
    """A written export.

    :param manifest: what ``manifest.json`` holds.
    :param status: ``complete``, or ``partial`` when a dataset was left out for a failure or
        written as partial (datasets left out for being empty do not count).
    :param size: the ZIP's size in bytes.
    :param sha256: the ZIP's SHA-256 (hex).
    :param path: where it was written, if to a path.
    :param parity: the files read back against the fingerprints, when the export was asked
        to check them (:meth:`snapkit.project.Project.export` with ``check_parity=True``).
    """

    manifest: ExportManifest
    status: ExportStatus
    size: int
    sha256: str
    path: str | None = None
    parity: ParityCheck | None = None


class _RowsFailed(Exception):
    """Building a dataset's rows raised (kept apart from serializer errors)."""


@frozen
class _Plan:
    """Whether a dataset can be built, and with which status."""

    build: bool
    status: Literal["complete", "partial"] = "complete"
    reason: str | None = None
    message: str = ""


# -- the registry ----------------------------------------------------------------------------


def profiles(manager: Any) -> dict[str, tuple[str, ...]]:
    """Return every export profile with its dataset keys (sorted)."""
    found: dict[str, set[str]] = {}
    for descriptor in manager.datasets:
        for profile in descriptor.profiles:
            found.setdefault(profile, set()).add(descriptor.key)
    return {name: tuple(sorted(keys)) for name, keys in sorted(found.items())}


def datasets_for(manager: Any, profile: str) -> tuple[DatasetDescriptor, ...]:
    """Return the datasets of ``profile`` in file-name order.

    :raises ExportError: (``unknown_profile``) if no dataset belongs to the profile.
    """
    chosen = [d for d in manager.datasets if profile in d.profiles]
    if not chosen:
        known = ", ".join(profiles(manager)) or "none"
        raise ExportError(
            f"no export profile {profile!r} is registered (known: {known})",
            reason="unknown_profile",
            hint="install or enable the plugin that provides it",
        )
    return tuple(sorted(chosen, key=lambda d: (d.file_name, d.key)))


def _uses(descriptor: DatasetDescriptor) -> tuple[str, ...]:
    return descriptor.requires or descriptor.optional


# -- building one dataset --------------------------------------------------------------------


def _plan(descriptor: DatasetDescriptor, projections: Mapping[str, ProjectionResult]) -> _Plan:
    closed = descriptor.policy == "fail_closed"
    partial_reason = None
    for key in descriptor.requires:
        result = projections.get(key)
        status = "missing" if result is None else result.status
        if status == "ready":
            continue
        if status == "partial" and not closed:
            partial_reason = partial_reason or "required_projection_partial"
            continue
        why = f" ({result.message})" if result is not None and result.message else ""
        return _Plan(
            False,
            reason=f"required_projection_{status}",
            message=f"dataset {descriptor.key!r}: required projection {key!r} is {status}{why}",
        )
    for key in descriptor.optional:
        result = projections.get(key)
        if result is None or result.status not in {"ready", "partial"}:
            partial_reason = partial_reason or "optional_projection_missing"
    if partial_reason is not None:
        return _Plan(True, "partial", partial_reason)
    return _Plan(True)


def _values(
    descriptor: DatasetDescriptor, projections: Mapping[str, ProjectionResult]
) -> dict[str, Any]:
    values = {}
    for key in (*descriptor.requires, *descriptor.optional):
        result = projections.get(key)
        if result is not None and result.status in {"ready", "partial"}:
            values[key] = result.value
    return values


def _guarded_rows(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], hasher: TableHasher
) -> Iterator[dict[str, Any]]:
    """Normalize each row to the columns, hash its formatted cells, and tag failures of the
    dataset's own code so that they are told apart from serializer failures."""
    try:
        for row in rows:
            normalized = {column: normalize_value(row.get(column)) for column in columns}
            hasher.add([format_cell(value) for value in normalized.values()])
            yield normalized
    except _RowsFailed:
        raise
    except Exception as exc:
        raise _RowsFailed(type(exc).__name__) from exc


def _build_rows(
    descriptor: DatasetDescriptor, values: Mapping[str, Any], settings: Mapping[str, Any]
) -> Iterable[Mapping[str, Any]]:
    try:
        implementation: Any = descriptor.factory(dict(settings))
        rows_fn = getattr(implementation, "rows", implementation)
        produced: Iterable[Mapping[str, Any]] = rows_fn(values)
        return produced
    except Exception as exc:
        raise _RowsFailed(type(exc).__name__) from exc


@frozen
class _Built:
    data: bytes
    rows: int
    table: str


def _serialize(
    descriptor: DatasetDescriptor,
    serializer: Any,
    values: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> _Built:
    hasher = TableHasher(descriptor.columns)
    rows = _guarded_rows(_build_rows(descriptor, values, settings), descriptor.columns, hasher)
    buffer = io.BytesIO()
    written = serializer.write(rows, descriptor.columns, buffer)
    if written != hasher.rows:
        raise ExportError(
            f"dataset {descriptor.key!r}: the serializer reported {written} rows for "
            f"{hasher.rows} given",
            reason="serializer_error",
        )
    return _Built(buffer.getvalue(), hasher.rows, hasher.hexdigest())


# -- the export ------------------------------------------------------------------------------


def build_export(
    bundle: SnapshotBundle,
    profile: str,
    manager: Any,
    *,
    settings: SettingsFn | None = None,
) -> tuple[bytes, ExportManifest, ExportStatus]:
    """Build an export in memory: the ZIP's bytes, its manifest, and its status.

    :raises ExportError: with a reason code, when a ``fail_closed`` dataset cannot be built,
        the profile is unknown, or the ZIP cannot be written.
    """
    settings_of: SettingsFn = settings or (lambda descriptor: {})
    datasets = datasets_for(manager, profile)
    members: dict[str, bytes] = {}
    resources: list[ExportResource] = []
    omitted: list[OmittedDataset] = []
    tables: dict[str, str] = {}
    uses: dict[str, tuple[str, ...]] = {}
    status: ExportStatus = "complete"
    for descriptor in datasets:
        plan = _plan(descriptor, bundle.projections)
        if not plan.build:
            _refuse_or_omit(descriptor, plan.reason or "export_error", plan.message, omitted)
            status = "partial"
            continue
        try:
            serializer_descriptor = manager.serializers.get(descriptor.serializer)
            serializer = serializer_descriptor.factory(dict(settings_of(serializer_descriptor)))
        except UnknownKeyError as exc:
            _refuse_or_omit(
                descriptor,
                "unknown_serializer",
                f"dataset {descriptor.key!r}: {exc.message}",
                omitted,
            )
            status = "partial"
            continue
        try:
            built = _serialize(
                descriptor,
                serializer,
                _values(descriptor, bundle.projections),
                settings_of(descriptor),
            )
        except _RowsFailed as exc:
            _refuse_or_omit(
                descriptor,
                "dataset_error",
                f"dataset {descriptor.key!r}: building its rows raised {exc}",
                omitted,
            )
            status = "partial"
            continue
        except Exception as exc:
            _refuse_or_omit(
                descriptor,
                "serializer_error",
                f"dataset {descriptor.key!r}: serializer "
                f"{descriptor.serializer!r} raised {type(exc).__name__}",
                omitted,
            )
            status = "partial"
            continue
        tables[descriptor.file_name] = built.table
        uses[descriptor.file_name] = _uses(descriptor)
        if built.rows == 0:
            omitted.append(OmittedDataset(descriptor.key, "empty"))
            continue
        if plan.status == "partial":
            status = "partial"
        members[descriptor.file_name] = built.data
        resources.append(_resource(descriptor, serializer_descriptor, built, plan))
    manifest = ExportManifest(
        name=_package_name(profile, bundle.snapshot_id),
        profile=profile,
        snapshot_id=bundle.snapshot_id,
        resources=tuple(resources),
        omitted=tuple(omitted),
        parity=projection_fingerprints(tables, uses),
    )
    members[MANIFEST_NAME] = manifest_bytes(manifest, datasets, manager, settings_of)
    try:
        from snapkit.exportzip import write_zip

        buffer = io.BytesIO()
        write_zip(members, buffer)
    except (OSError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise ExportError(
            f"the ZIP could not be written ({type(exc).__name__})", reason="zip_error"
        ) from exc
    return buffer.getvalue(), manifest, status


def _refuse_or_omit(
    descriptor: DatasetDescriptor, reason: str, message: str, omitted: list[OmittedDataset]
) -> None:
    if descriptor.policy == "fail_closed":
        raise ExportError(
            message,
            reason=reason,
            hint="the dataset's policy is fail_closed; see 'snapkit project'",
        )
    log.info("dataset %s left out of the export (%s)", descriptor.key, reason)
    omitted.append(OmittedDataset(descriptor.key, reason))


def _resource(
    descriptor: DatasetDescriptor, serializer: SerializerDescriptor, built: _Built, plan: _Plan
) -> ExportResource:
    return ExportResource(
        name=descriptor.key.lower(),
        path=descriptor.file_name,
        dataset=descriptor.key,
        format=serializer.extension or serializer.key,
        mediatype=serializer.mediatype,
        rows=built.rows,
        bytes=len(built.data),
        hash="sha256:" + hashlib.sha256(built.data).hexdigest(),
        status=plan.status,
        policy=descriptor.policy,
        reason=plan.reason,
    )


def _package_name(profile: str, snapshot_id: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in profile.lower())
    return f"snapkit-{cleaned}-{snapshot_id[:12]}"


def manifest_bytes(
    manifest: ExportManifest,
    datasets: Sequence[DatasetDescriptor],
    manager: Any,
    settings: SettingsFn | None = None,
) -> bytes:
    """Return ``manifest.json``: the :class:`ExportManifest` plus the Frictionless properties
    of each resource (``type``, ``encoding``, ``schema`` and, for CSV, ``dialect``)."""
    from snapkit.convert import to_json

    settings_of: SettingsFn = settings or (lambda descriptor: {})
    data: dict[str, Any] = to_json(manifest)
    data["$schema"] = DATA_PACKAGE_SCHEMA
    by_key = {d.key: d for d in datasets}
    for resource in data["resources"]:
        descriptor = by_key[resource["dataset"]]
        resource["type"] = "table"
        resource["encoding"] = "utf-8"
        resource["schema"] = {"fields": [{"name": c, "type": "string"} for c in descriptor.columns]}
        serializer_descriptor = manager.serializers.get(descriptor.serializer)
        serializer = serializer_descriptor.factory(dict(settings_of(serializer_descriptor)))
        dialect = getattr(serializer, "dialect", None)
        if dialect:
            resource["dialect"] = dict(dialect)
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def export_snapshot(
    bundle: SnapshotBundle,
    profile: str,
    manager: Any,
    out: str | os.PathLike[str] | BinaryIO,
    *,
    settings: SettingsFn | None = None,
) -> ExportOutcome:
    """Export a snapshot bundle as a ZIP to a path (written atomically) or a binary stream.

    Announces ``snapkit_export_finished`` (status ``complete``, ``partial`` or ``failed``,
    with the reason code).

    :raises ExportError: with a reason code (see the module docstring).
    """
    try:
        data, manifest, status = build_export(bundle, profile, manager, settings=settings)
        path = _write_out(data, out)
    except ExportError as exc:
        manager.emit(
            "snapkit_export_finished",
            events.ExportFinished(bundle.snapshot_id, profile, "failed", 0, 0, exc.reason),
        )
        raise
    manager.emit(
        "snapkit_export_finished",
        events.ExportFinished(
            bundle.snapshot_id,
            profile,
            status,
            len(manifest.resources),
            len(data),
            None if status == "complete" else "partial",
        ),
    )
    return ExportOutcome(manifest, status, len(data), hashlib.sha256(data).hexdigest(), path)


def _write_out(data: bytes, out: str | os.PathLike[str] | BinaryIO) -> str | None:
    target: Path | None = None
    try:
        if isinstance(out, str | os.PathLike):
            target = Path(out)
            handle, temp = tempfile.mkstemp(
                prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
            )
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                    stream.flush()
                    os.fsync(stream.fileno())
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
            return str(target)
        out.write(data)
        return None
    except OSError as exc:
        cause = exc.strerror or type(exc).__name__
        if target is None:
            raise ExportError(f"the ZIP could not be written: {cause}", reason="zip_error") from exc
        folder = target.parent
        hint = (
            "create the folder, or give another output path"
            if not folder.is_dir()
            else "check the folder's permissions and free space, or give another output path"
        )
        raise ExportError(
            f"the ZIP could not be written to {target}: {cause}", reason="zip_error", hint=hint
        ) from exc


# -- parity ----------------------------------------------------------------------------------


def expected_parity(
    bundle: SnapshotBundle,
    datasets: Sequence[DatasetDescriptor],
    *,
    settings: SettingsFn | None = None,
) -> dict[str, str]:
    """Return the projection fingerprints the export of ``bundle`` must carry, computed from
    the projection values alone (no serializer): the fingerprints a UI showing the same
    projections computes (the parity fingerprint, docs/export.md)."""
    settings_of: SettingsFn = settings or (lambda descriptor: {})
    tables: dict[str, str] = {}
    uses: dict[str, tuple[str, ...]] = {}
    for descriptor in datasets:
        if not _plan(descriptor, bundle.projections).build:
            continue
        hasher = TableHasher(descriptor.columns)
        try:
            for _ in _guarded_rows(
                _build_rows(
                    descriptor, _values(descriptor, bundle.projections), settings_of(descriptor)
                ),
                descriptor.columns,
                hasher,
            ):
                pass
        except _RowsFailed:
            continue
        tables[descriptor.file_name] = hasher.hexdigest()
        uses[descriptor.file_name] = _uses(descriptor)
    return projection_fingerprints(tables, uses)


@frozen
class ParityCheck:
    """The outcome of re-reading an export's files.

    :param recorded: the ZIP's files against the fingerprints its ``manifest.json`` records.
    :param projections: the ZIP's files against the given projections (``None`` if no bundle
        was given).
    """

    snapshot_id: str
    profile: str
    recorded: ParityReport
    projections: ParityReport | None = None

    @property
    def ok(self) -> bool:
        """``True`` when every comparison matched."""
        return self.recorded.ok and (self.projections is None or self.projections.ok)


def check_parity(
    source: str | os.PathLike[str] | BinaryIO | bytes,
    manager: Any,
    *,
    bundle: SnapshotBundle | None = None,
    settings: SettingsFn | None = None,
) -> ParityCheck:
    """Re-read the files of an export ZIP and compare their fingerprints with the ones its
    manifest records and, if ``bundle`` is given, with the bundle's projections.

    Each file is read back by its serializer's ``read(stream, columns)``, which yields the
    cells as text; files of a serializer without ``read`` count as mismatches.

    :raises ExportError: (``invalid_export``) if the ZIP or its manifest cannot be read.
    """
    from snapkit.convert import from_json

    settings_of: SettingsFn = settings or (lambda descriptor: {})
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
        with archive:
            manifest = from_json(json.loads(archive.read(MANIFEST_NAME)), ExportManifest)
            tables: dict[str, str] = {}
            uses: dict[str, tuple[str, ...]] = {}
            for resource in manifest.resources:
                descriptor = manager.datasets.get(resource.dataset)
                serializer_descriptor = manager.serializers.get(descriptor.serializer)
                serializer = serializer_descriptor.factory(dict(settings_of(serializer_descriptor)))
                read = getattr(serializer, "read", None)
                uses[resource.path] = _uses(descriptor)
                if read is None:
                    continue
                hasher = TableHasher(descriptor.columns)
                with archive.open(resource.path) as stream:
                    for cells in read(stream, descriptor.columns):
                        hasher.add(cells)
                tables[resource.path] = hasher.hexdigest()
            for omission in manifest.omitted:
                if omission.reason == "empty":
                    descriptor = manager.datasets.get(omission.dataset)
                    tables[descriptor.file_name] = TableHasher(descriptor.columns).hexdigest()
                    uses[descriptor.file_name] = _uses(descriptor)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise ExportError(
            f"the export cannot be read ({type(exc).__name__})", reason="invalid_export"
        ) from exc
    actual = projection_fingerprints(tables, uses)
    against_bundle = None
    if bundle is not None:
        datasets = [
            manager.datasets.get(key)
            for key in sorted(
                {r.dataset for r in manifest.resources}
                | {o.dataset for o in manifest.omitted if o.reason == "empty"}
            )
        ]
        against_bundle = compare(expected_parity(bundle, datasets, settings=settings), actual)
    return ParityCheck(
        manifest.snapshot_id,
        manifest.profile,
        compare(dict(manifest.parity), actual),
        against_bundle,
    )
