"""The projection engine (docs/projections.md): derive views from a snapshot, each isolated.

A projection declares the oracles it requires and those it can do without. :func:`derive`
checks them against the snapshot, gives the projection a :class:`ProjectionInputs` (the small
payloads, a lazy record reader per part, and the scope's filters) and reports one of four
statuses with a reason code:

=============  ==============================  ==================================================
status         reason                          when
=============  ==============================  ==================================================
``ready``      ``None``                        every required and optional oracle is there
``partial``    ``missing_optional_oracle``     an optional oracle is missing; derived without it
``unavailable`` ``required_oracle_not_loaded`` a required oracle is not in the snapshot (yet):
                                               the snapshot is still being assembled
``failed``     ``missing_required_oracle``     a required oracle ran and failed (or its payload
                                               was discarded with a failed snapshot)
``failed``     ``derivation_error``            the projection raised
``failed``     ``undeclared_oracle``           it read an oracle it did not declare
``failed``     ``invalid_value``               its value is not canonical JSON
``failed``     a code of its own               it raised :class:`DerivationError` with a reason
=============  ==============================  ==================================================

Derivation never fetches: it reads the snapshot's payloads and parts only, so it also works on
a partial snapshot — a host can show what is ready while the rest loads. One projection failing
never stops the others. Each result is announced through ``snapkit_projection_status`` with
identifiers, status, reason and duration only (never values).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from attrs import field, frozen

from snapkit import events
from snapkit.canonical import check_canonical, content_id
from snapkit.contracts import PartRef, ProjectionResult, Scope, SnapshotManifest
from snapkit.descriptors import ProjectionDescriptor
from snapkit.errors import ContractError, ProjectionError, SnapkitError
from snapkit.gcpace import YOUNG_COLLECTION_EVERY, spaced_collections

log = logging.getLogger("snapkit.projection")

PartReader = Callable[[PartRef], Iterator[dict[str, Any]]]
"""Yields the records of one part of a snapshot (see :func:`store_reader`)."""

MISSING_REQUIRED = "missing_required_oracle"
NOT_LOADED = "required_oracle_not_loaded"
MISSING_OPTIONAL = "missing_optional_oracle"
DERIVATION_ERROR = "derivation_error"
UNDECLARED = "undeclared_oracle"
INVALID_VALUE = "invalid_value"


class DerivationError(ProjectionError):
    """Raised by a projection that cannot derive its view, with its own reason code.

    The message must name identifiers only, never payload values.
    """

    def __init__(
        self, message: str, *, reason: str = DERIVATION_ERROR, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.reason = reason


class UndeclaredOracleError(DerivationError):
    """A projection read an oracle it did not declare in ``requires`` or ``optional``."""

    def __init__(self, projection: str, oracle: str) -> None:
        super().__init__(
            f"projection {projection!r} read oracle {oracle!r}, which it does not declare",
            reason=UNDECLARED,
            hint="add the oracle to the projection's requires or optional",
        )


class MissingInputError(DerivationError):
    """A projection asked for an optional oracle that the snapshot does not hold."""

    def __init__(self, oracle: str) -> None:
        super().__init__(
            f"oracle {oracle!r} is not in the snapshot",
            reason=MISSING_OPTIONAL,
            hint="check inputs.has(key) before reading an optional oracle",
        )


class StoreReader:
    """A :data:`PartReader` over a snapshot store: streams records one at a time, and reads a
    whole part in one decoding pass when a projection asks for it as a table."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def __call__(self, part: PartRef) -> Iterator[dict[str, Any]]:
        from snapkit.parts import iter_records

        return iter_records(self.store, part)

    def read_all(self, part: PartRef) -> list[dict[str, Any]]:
        """Every record of ``part`` as a list. A part is canonical JSON Lines (no raw line
        break inside a record), so runs of whole lines joined by commas form JSON arrays:
        the part is decoded a run of about :data:`DECODE_CHUNK` bytes at a time (one array
        per run: fewer calls than a line at a time, and the decoder's working memory stays
        small and is reused, where one array of a large part costs it fresh pages).

        With the optional ``orjson`` installed it decodes the arrays (about twice as fast),
        unless the part holds a run of 19 or more digits: orjson reads integers beyond 64
        bits as floats, where :mod:`json` keeps them exact, so such parts (and anything
        orjson refuses) are decoded with :mod:`json`; the records are the same either way.
        """
        blocks = getattr(self.store, "iter_part_blocks", None)
        if blocks is not None:  # (a store's block reads: fewer copies; SHA-256 checked)
            data = b"".join(blocks(part.sha256, verify=True))
        else:
            with self.store.open_part(part.sha256) as handle:
                data = handle.read()
        return _decode_lines(data)


DECODE_CHUNK = 64 * 1024
"""The bytes of JSON Lines :meth:`StoreReader.read_all` decodes in one call (a run of whole
lines; a longer line is a run of its own)."""

_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
"""With every digit mapped to 0, a run of 19 digits: a number orjson might read differently
from :mod:`json` (an integer beyond 64 bits). Digits inside strings match too, which only
costs the faster decoder. (A byte translation and a substring search: a regular expression
takes longer than the decoding it guards.)"""


def _decode_lines(data: bytes) -> list[Any]:
    """Decode JSON Lines (each line one JSON value, no empty lines) into a list of values,
    with orjson when it is installed and safe (see :meth:`StoreReader.read_all`), else with
    :mod:`json`."""
    body = data[:-1] if data.endswith(b"\n") else data
    if not body:
        return []
    try:
        import orjson
    except ImportError:  # pragma: no cover - exercised where orjson is not installed
        return _json_array(body)
    if body.translate(_DIGITS_AS_ZERO).find(_LONG_NUMBER) >= 0:
        return _json_array(body)
    values: list[Any] = []
    start, size = 0, len(body)
    find, loads = body.find, orjson.loads
    try:
        while start < size:
            end = find(b"\n", min(start + DECODE_CHUNK, size))
            if end < 0:
                end = size
            values += loads(b"[" + body[start:end].replace(b"\n", b",") + b"]")
            start = end + 1
    except orjson.JSONDecodeError:
        return _json_array(body)
    return values


def _json_array(body: bytes) -> list[Any]:
    import json

    values: list[Any] = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
    return values


def store_reader(store: Any) -> PartReader:
    """Return a :data:`PartReader` over a snapshot store."""
    return StoreReader(store)


class TableCache:
    """Decoded parts kept between derivation runs, by SHA-256 (parts are content-addressed,
    so an entry never goes stale), and the intermediates projections share through
    :meth:`ProjectionInputs.shared`, by name, the parts and payloads of the oracles the
    projection declared, and the filters (all of which they are a function of). Optional:
    pass one to :func:`derive_all` when a host derives the same snapshot repeatedly
    (incremental hydration, project then export). Entries are read-only and shared by every
    projection; ``max_parts`` bounds each kind (least recently used leave first);
    ``keep_shared=False`` keeps decoded parts only."""

    def __init__(self, max_parts: int = 16, *, keep_shared: bool = True) -> None:
        self.max_parts = max_parts
        self.keep_shared = keep_shared
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._shared: dict[tuple[str, ...], Any] = {}

    def get_shared(self, key: tuple[str, ...]) -> tuple[bool, Any]:
        """``(True, value)`` for a kept intermediate, else ``(False, None)``."""
        if key not in self._shared:
            return False, None
        value = self._shared[key] = self._shared.pop(key)
        return True, value

    def put_shared(self, key: tuple[str, ...], value: Any) -> None:
        """Keep an intermediate (when ``keep_shared``)."""
        if not self.keep_shared:
            return
        self._shared[key] = value
        while len(self._shared) > self.max_parts:
            self._shared.pop(next(iter(self._shared)))

    def get(self, sha256: str) -> list[dict[str, Any]] | None:
        """The decoded part, or ``None``."""
        table = self._tables.pop(sha256, None)
        if table is not None:
            self._tables[sha256] = table
        return table

    def put(self, sha256: str, table: list[dict[str, Any]]) -> None:
        """Keep a decoded part."""
        self._tables[sha256] = table
        while len(self._tables) > self.max_parts:
            self._tables.pop(next(iter(self._tables)))


class _Tables:
    """Record lists materialized once per derivation run and shared by its projections."""

    def __init__(self, reader: PartReader | None, cache: TableCache | None = None) -> None:
        self.reader = reader
        self.tables: dict[str, list[dict[str, Any]]] = {}
        self.shared: dict[str, Any] = {}
        self.cache = cache

    def records(self, part: PartRef) -> Iterator[dict[str, Any]]:
        cached = self.tables.get(part.sha256)
        if cached is not None:
            return iter(cached)
        if self.reader is None:
            raise DerivationError(
                f"part {part.name!r} cannot be read: no part reader was given",
                reason="no_part_reader",
                hint="pass store= or reader= to derive_all",
            )
        return self.reader(part)

    def table(self, part: PartRef) -> list[dict[str, Any]]:
        cached = self.tables.get(part.sha256)
        if cached is None and self.cache is not None:
            cached = self.cache.get(part.sha256)
        if cached is None:
            read_all = getattr(self.reader, "read_all", None)
            cached = read_all(part) if read_all is not None else list(self.records(part))
            if self.cache is not None:
                self.cache.put(part.sha256, cached)
        self.tables[part.sha256] = cached
        return cached


@frozen(eq=False)
class ProjectionInputs:
    """What a projection's ``derive(inputs)`` gets.

    :param projection: the projection's key.
    :param scope: what the snapshot is of.
    :param filters: the scope's filters, with any overrides applied (thresholds, windows).
    :param snapshot_id: the snapshot's id (``None`` for an unsaved, partial assembly).
    :param declared: the oracle keys the projection declared (required and optional).
    :param missing: declared optional oracles the snapshot does not hold.
    """

    projection: str
    scope: Scope
    filters: Mapping[str, Any]
    snapshot_id: str | None
    declared: frozenset[str]
    missing: tuple[str, ...]
    _payloads: Mapping[str, Any] = field(alias="payloads")
    _parts: Mapping[str, PartRef] = field(alias="parts")
    _tables: _Tables = field(alias="tables")

    def _check(self, key: str) -> None:
        if key not in self.declared:
            raise UndeclaredOracleError(self.projection, key)

    def has(self, key: str) -> bool:
        """Whether the snapshot holds oracle ``key``'s payload or records."""
        self._check(key)
        return key in self._payloads or key in self._parts

    def payload(self, key: str) -> Any:
        """The small payload of oracle ``key`` (a JSON value).

        :raises MissingInputError: if the snapshot does not hold it.
        """
        self._check(key)
        if key in self._payloads:
            return self._payloads[key]
        if key in self._parts:
            raise DerivationError(
                f"oracle {key!r} is a record stream; use records()", reason="wrong_input_kind"
            )
        raise MissingInputError(key)

    def records(self, key: str) -> Iterator[dict[str, Any]]:
        """Yield the records of oracle ``key``'s part, lazily, in stored order."""
        self._check(key)
        part = self._parts.get(key)
        if part is None:
            if key in self._payloads:
                raise DerivationError(
                    f"oracle {key!r} is a payload; use payload()", reason="wrong_input_kind"
                )
            raise MissingInputError(key)
        return self._tables.records(part)

    def table(self, key: str) -> list[dict[str, Any]]:
        """The records of oracle ``key``'s part as a list, read once and shared by every
        projection of the same run. Do not modify it."""
        self._check(key)
        part = self._parts.get(key)
        if part is None:
            raise MissingInputError(key)
        return self._tables.table(part)

    def part(self, key: str) -> PartRef | None:
        """The part holding oracle ``key``'s records, or ``None``."""
        self._check(key)
        return self._parts.get(key)

    def filter(self, name: str, default: Any = None) -> Any:
        """The value of filter ``name``, or ``default``."""
        return self.filters.get(name, default)

    def shared(self, name: str, compute: Callable[[ProjectionInputs], Any]) -> Any:
        """Compute an intermediate once per run and share it between projections (e.g. an
        index every projection of a plugin builds on). ``name`` should be unique to the plugin
        and encode every input and filter the value depends on. Treat the value as read-only.
        """
        store = self._tables.shared
        if name in store:
            return store[name]
        cache = self._tables.cache
        key = self._shared_key(name, compute) if cache is not None else None
        if cache is not None and key is not None:
            found, value = cache.get_shared(key)
            if found:
                store[name] = value
                return value
        value = store[name] = compute(self)
        if cache is not None and key is not None:
            cache.put_shared(key, value)
        return value

    def _shared_key(self, name: str, compute: Callable[..., Any]) -> tuple[str, ...] | None:
        """What a shared intermediate is a function of: its name and computation, the
        declared oracles' parts (by SHA-256) and payloads, and the filters; ``None`` when
        those cannot be put in canonical form (the value is then not kept across runs)."""
        try:
            payloads = content_id(dict(self._payloads))
            filters = content_id(dict(self.filters))
        except ContractError:
            return None
        parts = ",".join(f"{key}={part.sha256}" for key, part in sorted(self._parts.items()))
        code = (
            f"{getattr(compute, '__module__', '')}.{getattr(compute, '__qualname__', '')}"
            f"#{id(getattr(compute, '__code__', compute))}"
        )
        return (name, code, parts, payloads, filters)


@frozen
class ProjectionSet:
    """Every projection derived from one snapshot: results by key, in key order."""

    snapshot_id: str | None
    results: Mapping[str, ProjectionResult]
    filters: Mapping[str, Any] = field(factory=dict)

    def statuses(self) -> dict[str, str]:
        """Status by projection key."""
        return {key: result.status for key, result in self.results.items()}

    def value(self, key: str) -> Any:
        """The value of projection ``key`` (``None`` unless ready or partial)."""
        return self.results[key].value

    def __getitem__(self, key: str) -> ProjectionResult:
        return self.results[key]


def _available(manifest: SnapshotManifest) -> tuple[dict[str, Any], dict[str, PartRef]]:
    parts = {part.oracle: part for part in manifest.parts}
    return dict(manifest.payloads), parts


def _effective_filters(
    manifest: SnapshotManifest, overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    merged = dict(manifest.scope.filters)
    merged.update(overrides or {})
    return merged


def derive(
    manifest: SnapshotManifest,
    descriptor: ProjectionDescriptor,
    *,
    reader: PartReader | None = None,
    filters: Mapping[str, Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    manager: Any = None,
) -> ProjectionResult:
    """Derive one projection from a snapshot.

    :param manifest: the snapshot (it may be partial: still being assembled).
    :param descriptor: the projection.
    :param reader: reads a part's records (see :func:`store_reader`); needed only if the
        projection reads record streams.
    :param filters: overrides of the scope's filters, applied on top of them.
    :param settings: the projection's settings (the ``[projections.<key>]`` config section).
    :param manager: if given, ``snapkit_projection_status`` is emitted through it.
    :returns: the result; this function never raises for a projection's own failure.
    """
    payloads, parts = _available(manifest)
    with spaced_collections(young=YOUNG_COLLECTION_EVERY):  # (as derive_all)
        tables = _Tables(reader)
        result = _derive_one(
            manifest,
            descriptor,
            payloads,
            parts,
            tables,
            _effective_filters(manifest, filters),
            settings or {},
            manager,
        )
        del tables
    return result


def derive_all(
    manifest: SnapshotManifest,
    manager: Any,
    *,
    store: Any = None,
    reader: PartReader | None = None,
    keys: Sequence[str] | None = None,
    filters: Mapping[str, Any] | None = None,
    settings: Callable[[ProjectionDescriptor], Mapping[str, Any]] | None = None,
    cache: TableCache | None = None,
) -> ProjectionSet:
    """Derive every registered projection (or ``keys``) from a snapshot, each isolated.

    Record streams are read at most once per run and shared between projections.

    :param manager: the :class:`snapkit.manager.PluginManager` holding the projections.
    :param store: a snapshot store to read parts from (or give ``reader``).
    :param keys: derive only these projections.
    :param filters: overrides of the scope's filters.
    :param settings: returns a projection's settings (default: none).
    :param cache: keeps decoded parts between runs (see :class:`TableCache`).
    :raises UnknownKeyError: if a key in ``keys`` is not registered.
    """
    if reader is None and store is not None:
        reader = store_reader(store)
    registry = manager.projections
    wanted = sorted(keys) if keys is not None else sorted(registry.keys())
    descriptors = [registry.get(key) for key in wanted]
    payloads, parts = _available(manifest)
    effective = _effective_filters(manifest, filters)
    results = {}
    with spaced_collections(young=YOUNG_COLLECTION_EVERY):  # (see snapkit.gcpace)
        tables = _Tables(reader, cache)
        for descriptor in descriptors:
            results[descriptor.key] = _derive_one(
                manifest,
                descriptor,
                payloads,
                parts,
                tables,
                effective,
                settings(descriptor) if settings is not None else {},
                manager,
            )
        # the records read are freed while collections are spaced: the collector's next
        # young collection then walks only what survives the run, not every record
        del tables
    return ProjectionSet(_snapshot_id(manifest), results, effective)


def _snapshot_id(manifest: SnapshotManifest) -> str | None:
    try:
        return manifest.id
    except ContractError:  # an assembly holding a non-canonical value has no id
        return None


def _derive_one(
    manifest: SnapshotManifest,
    descriptor: ProjectionDescriptor,
    payloads: Mapping[str, Any],
    parts: Mapping[str, PartRef],
    tables: _Tables,
    filters: Mapping[str, Any],
    settings: Mapping[str, Any],
    manager: Any,
) -> ProjectionResult:
    started = time.perf_counter()
    result = _evaluate(manifest, descriptor, payloads, parts, tables, filters, settings)
    duration = (time.perf_counter() - started) * 1000
    if result.status == "failed":
        log.warning("projection %s failed (%s)", descriptor.key, result.reason)
    if manager is not None:
        manager.emit(
            "snapkit_projection_status",
            events.ProjectionStatusEvent(
                _snapshot_id(manifest), descriptor.key, result.status, result.reason, duration
            ),
        )
    return result


def _evaluate(
    manifest: SnapshotManifest,
    descriptor: ProjectionDescriptor,
    payloads: Mapping[str, Any],
    parts: Mapping[str, PartRef],
    tables: _Tables,
    filters: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> ProjectionResult:
    key = descriptor.key
    held = set(payloads) | set(parts)
    for oracle in descriptor.requires:
        if oracle in held:
            continue
        if manifest.oracle_status(oracle) is not None:
            return ProjectionResult(
                key, "failed", MISSING_REQUIRED, message=f"required oracle {oracle!r} did not load"
            )
        return ProjectionResult(
            key,
            "unavailable",
            NOT_LOADED,
            message=f"required oracle {oracle!r} is not in the snapshot",
        )
    missing = tuple(oracle for oracle in descriptor.optional if oracle not in held)
    used = tuple(o for o in (*descriptor.requires, *descriptor.optional) if o in held)
    inputs = ProjectionInputs(
        projection=key,
        scope=manifest.scope,
        filters=filters,
        snapshot_id=_snapshot_id(manifest),
        declared=frozenset((*descriptor.requires, *descriptor.optional)),
        missing=missing,
        payloads={k: payloads[k] for k in used if k in payloads},
        parts={k: parts[k] for k in used if k in parts},
        tables=tables,
    )
    try:
        implementation: Any = descriptor.factory(dict(settings))
        derive_fn = getattr(implementation, "derive", implementation)
        value = derive_fn(inputs)
    except DerivationError as exc:
        return ProjectionResult(key, "failed", exc.reason, oracles=used, message=exc.message)
    except SnapkitError as exc:  # ours (a damaged part...): its message holds no values
        return ProjectionResult(
            key, "failed", DERIVATION_ERROR, oracles=used, message=f"projection {key!r}: {exc}"
        )
    except Exception as exc:  # isolation: one projection failing never stops the others
        return ProjectionResult(
            key,
            "failed",
            DERIVATION_ERROR,
            oracles=used,
            message=f"projection {key!r} raised {type(exc).__name__}{_where(exc)}",
        )
    try:
        check_canonical(value)
    except ContractError:
        return ProjectionResult(
            key,
            "failed",
            INVALID_VALUE,
            oracles=used,
            message=f"projection {key!r} returned a value that is not canonical JSON",
        )
    if missing:
        return ProjectionResult(
            key,
            "partial",
            MISSING_OPTIONAL,
            value,
            used,
            message="missing optional oracle(s): " + ", ".join(missing),
        )
    return ProjectionResult(key, "ready", None, value, used)


def _where(exc: BaseException) -> str:
    """Where an exception was raised (file name and line), never its message: messages of
    arbitrary exceptions can quote payload values."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return ""
    import os

    return f" at {os.path.basename(tb.tb_frame.f_code.co_filename)}:{tb.tb_lineno}"


def derive_for_project(
    project: Any,
    manifest: SnapshotManifest,
    *,
    keys: Sequence[str] | None = None,
    filters: Mapping[str, Any] | None = None,
    cache: TableCache | None = None,
) -> ProjectionSet:
    """Derive projections for a :class:`snapkit.project.Project`: its store, its plugins and
    the ``[projections.<key>]`` settings of its config. The same as
    :meth:`Project.derive <snapkit.project.Project.derive>`, which it calls."""
    result: ProjectionSet = project.derive(manifest, keys=keys, filters=filters, cache=cache)
    return result
