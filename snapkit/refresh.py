"""The refresh engine (docs/snapshots.md): run oracles, validate, freeze, commit.

One refresh: take the store's lease; plan the oracles in dependency order; run each level's
oracles in parallel (bounded), each call with a timeout and retries on transient errors, the
whole under a deadline; validate every payload and record; stream record payloads into staged
parts; build the manifest; commit. Only a ``success`` (or, if configured, a ``partial``)
snapshot moves the current pointer; a failure records a failed snapshot and leaves no parts.
The CLI, the HTTP admin endpoint and the Python API all call :func:`run_refresh`.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from attrs import field, frozen

from snapkit import events
from snapkit.config import RefreshSettings
from snapkit.contracts import (
    ErrorInfo,
    OracleResult,
    OracleStatus,
    PartRef,
    RunInfo,
    Scope,
    SnapshotManifest,
    SnapshotStatus,
    Timings,
    utc_now,
)
from snapkit.descriptors import OracleDescriptor
from snapkit.errors import (
    ConfigError,
    ContractError,
    IntegrityError,
    OracleTimeoutError,
    PayloadSchemaError,
    PayloadValidationError,
    SnapkitError,
    UnknownKeyError,
    UsageError,
    describe_exception,
)
from snapkit.gcpace import FULL_COLLECTION_EVERY, spaced_collections
from snapkit.integrity import check_keys, check_shrink
from snapkit.lease_keeper import LeaseKeeper
from snapkit.manager import PluginManager
from snapkit.parts import write_records
from snapkit.payloads import make_check
from snapkit.planning import closure, plan_levels
from snapkit.retry import RetryPolicy, call_with_retries
from snapkit.store import SnapshotStore, Transaction

log = logging.getLogger("snapkit.refresh")


@frozen
class OracleInput:
    """What a dependent oracle sees of an oracle it requires: its result envelope."""

    result: OracleResult

    @property
    def payload(self) -> Any:
        """The small payload (``None`` for a record stream)."""
        return self.result.payload


@frozen
class PreviousResult:
    """What the current snapshot holds for one oracle: read-only, for checks against what
    came before (an as-of date that must not go back, a total that must not collapse).

    The current snapshot is the pointer's target (the last known good one), read once when
    the refresh starts: a failed refresh since then does not change it. Only its manifest is
    read, never a part.

    :param snapshot_id: the current snapshot's id.
    :param created_at: when it was captured (UTC, ISO 8601).
    :param loaded: the oracle loaded in it (``False``: it was skipped, or did not run then).
    :param version: the oracle's version in it (``None``: it did not run then).
    :param payload: its small payload there (a copy: changing it changes nothing), or
        ``None`` for a record stream or an oracle that did not load.
    :param part: its record stream's part there -- table name, record count, SHA-256 and
        size, never the records -- or ``None`` for a small payload.
    """

    snapshot_id: str
    created_at: str
    loaded: bool = False
    version: str | None = None
    payload: Any = None
    part: PartRef | None = None

    @classmethod
    def of(cls, manifest: SnapshotManifest, key: str) -> PreviousResult:
        """What ``manifest`` holds for oracle ``key``."""
        status = next((s for s in manifest.oracles if s.key == key), None)
        part = next((p for p in manifest.parts if p.oracle == key), None)
        return cls(
            snapshot_id=manifest.id,
            created_at=manifest.created_at,
            loaded=status is not None and status.status == "ok",
            version=status.version if status is not None else None,
            payload=copy.deepcopy(manifest.payloads.get(key)),
            part=part,
        )


@frozen
class OracleCall:
    """Everything an oracle's ``load`` gets for one call.

    :param scope: what the snapshot is of.
    :param settings: the oracle's validated settings (secrets resolved).
    :param inputs: results of the oracles it requires, by key.
    :param request_token: identifies this refresh (for logs and cache attribution).
    :param timeout: seconds this call may take; pass it on to network clients.
    :param attempt: 1 for the first try, 2 for the first retry, ...
    :param cancelled: set when the call timed out or the refresh is stopping; long loads
        should check it and stop.
    :param metrics: what :meth:`report` collected (kept in the run's timings, never in the
        snapshot's content or id).
    :param previous: what the current snapshot holds for this oracle
        (:class:`PreviousResult`), or ``None`` when there is no current snapshot, it cannot
        be read (a warning is logged), or the call is not part of a refresh (the
        :class:`snapkit.assemble.Assembler` builds bundles without a store). It never
        enters the new snapshot's content or id.
    """

    scope: Scope
    settings: Mapping[str, Any]
    inputs: Mapping[str, OracleInput]
    request_token: str
    timeout: float
    attempt: int
    cancelled: threading.Event
    metrics: dict[str, Any] = field(factory=dict)
    previous: PreviousResult | None = None

    def report(self, **figures: int | float | str | None) -> None:
        """Record figures about this run (``api_calls=12, retries=1``): they go into the
        manifest's ``run`` timings for this oracle, adding up over retries for numbers.
        Never report payload values."""
        for name, value in figures.items():
            previous = self.metrics.get(name)
            if isinstance(value, int | float) and isinstance(previous, int | float):
                self.metrics[name] = previous + value
            else:
                self.metrics[name] = value


@frozen
class Progress:
    """A progress update: an oracle's state and its record count so far."""

    oracle: str
    state: Literal["planned", "running", "retrying", "done", "failed", "skipped"]
    records: int = 0
    attempt: int = 1


ProgressFn = Callable[[Progress], None]


@frozen
class RefreshOutcome:
    """What a refresh produced."""

    snapshot_id: str
    status: SnapshotStatus
    pointer_moved: bool
    manifest: SnapshotManifest
    duration_ms: float
    warnings: tuple[str, ...] = ()
    """What went wrong after the commit without undoing it (e.g. a search index not built)."""

    @property
    def errors(self) -> tuple[ErrorInfo, ...]:
        """The snapshot's errors."""
        return self.manifest.errors


def run_refresh(
    manager: PluginManager,
    store: SnapshotStore,
    scope: Scope,
    settings: RefreshSettings,
    oracle_settings: Callable[[OracleDescriptor], Mapping[str, Any]],
    *,
    oracles: Sequence[str] | None = None,
    progress: ProgressFn | None = None,
    take_lock: bool = True,
    holder: str | None = None,
    cache: Any = None,
) -> RefreshOutcome:
    """Run one refresh and commit its snapshot.

    :param oracles: keys to run (plus what they require); default: ``settings.oracles``.
    :param oracle_settings: returns the settings of an oracle (the config's section).
    :param progress: receives :class:`Progress` updates (from worker threads).
    :param take_lock: take the store's refresh lease (tests of the CAS turn it off).
    :param cache: an :class:`snapkit.cache.OracleCache` to read and warm, used only when
        ``settings.use_cache`` is true (default: the config's ``[cache]``, if any).
    :raises LockHeldError: if another refresh holds the lease.
    :raises DependencyError, UnknownKeyError: if the oracle plan is invalid.
    """
    registry = manager.oracles
    wanted = list(oracles or settings.oracles or ())
    if not wanted:
        raise UsageError(
            "no oracles to run",
            hint="add [oracles.KEY] sections to the config or list keys in refresh.oracles",
        )
    _check_keys_named(registry, settings, wanted)
    requires = {d.key: d.requires for d in registry}
    keys = closure(requires, wanted)
    plan_levels({key: requires[key] for key in keys if key in requires})  # unknown, cycles
    descriptors = {key: registry.get(key) for key in sorted(keys)}
    levels = plan_levels({key: d.requires for key, d in descriptors.items()})
    run_id = uuid.uuid4().hex
    holder = holder or f"refresh {run_id[:12]}"
    lease = store.lock(holder, settings.lock_stale_after) if take_lock else None
    own_cache = None
    if settings.use_cache and cache is None and manager.config is not None:
        from snapkit.cache import open_cache

        cache = own_cache = open_cache(manager.config, manager)
    try:
        if lease is not None:
            lease.__enter__()
        run = _Run(
            manager,
            store,
            scope,
            settings,
            oracle_settings,
            descriptors,
            levels,
            run_id,
            progress,
            None,
        )
        run.cache = cache if settings.use_cache else None
        if lease is None:
            return run.execute()
        # a timer renews the lease while oracles run; a lost lease stops the run before commit
        with LeaseKeeper.for_stale_after(
            lease, settings.lock_stale_after, run.stopping.set
        ) as keeper:
            run.lease = keeper
            return run.execute()
    finally:
        if lease is not None:
            lease.__exit__(None, None, None)
        if own_cache is not None:
            own_cache.close()


def _check_keys_named(registry: Any, settings: RefreshSettings, wanted: Sequence[str]) -> None:
    """Raise :class:`ConfigError` for a key in ``refresh.oracles`` or ``refresh.allow_shrink``
    that names no registered oracle, :class:`UsageError` for another unknown wanted key."""
    for setting, keys in (
        ("oracles", settings.oracles or ()),
        ("allow_shrink", settings.allow_shrink),
    ):
        for index, key in enumerate(keys):
            try:
                registry.get(key)
            except UnknownKeyError as exc:
                raise ConfigError(
                    f"refresh.{setting}[{index}]: {exc.message}", hint=exc.hint
                ) from None
    for key in wanted:
        try:
            registry.get(key)
        except UnknownKeyError as exc:
            raise UsageError(exc.message, hint=exc.hint) from None


class _Run:
    """The state of one refresh while it runs (kept out of the public API)."""

    def __init__(
        self,
        manager: PluginManager,
        store: SnapshotStore,
        scope: Scope,
        settings: RefreshSettings,
        oracle_settings: Callable[[OracleDescriptor], Mapping[str, Any]],
        descriptors: dict[str, OracleDescriptor],
        levels: list[list[str]],
        run_id: str,
        progress: ProgressFn | None,
        lease: Any,
    ) -> None:
        self.manager = manager
        self.store = store
        self.scope = scope
        self.settings = settings
        self.oracle_settings = oracle_settings
        self.descriptors = descriptors
        self.levels = levels
        self.run_id = run_id
        self.progress = progress or (lambda update: None)
        self.lease = lease
        self.results: dict[str, OracleResult] = {}
        self.started = time.monotonic()
        self.deadline = self.started + settings.deadline
        self.stopping = threading.Event()
        self.current: SnapshotManifest | None = None  # the pointer's target, read once
        self.previous_counts: dict[str, int] = {}
        self.cache: Any = None  # an OracleCache when refresh.use_cache is on

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def execute(self) -> RefreshOutcome:
        started_at = utc_now()
        self.manager.emit(
            "snapkit_refresh_started",
            events.RefreshStarted(
                self.run_id, self.scope.id, self.scope.namespace, tuple(self.descriptors)
            ),
        )
        for key in self.descriptors:
            self.progress(Progress(key, "planned"))
        pointer = self.store.read_pointer()
        expected = pointer.generation if pointer is not None else 0
        self.current = self._read_current()
        self.previous_counts = _counts(self.current)
        txn = self.store.begin()
        try:
            with (
                spaced_collections(old=FULL_COLLECTION_EVERY),
                ThreadPoolExecutor(
                    max_workers=self.settings.concurrency, thread_name_prefix="snapkit-oracle"
                ) as pool,
            ):
                for level in self.levels:
                    futures = {key: pool.submit(self._run_oracle, key, txn) for key in level}
                    for key, future in futures.items():
                        self.results[key] = future.result()
                    if self.lease is not None:
                        self.lease.heartbeat()
            manifest = self._manifest(started_at)
            move = manifest.status == "success" or (
                manifest.status == "partial" and self.settings.partial_moves_pointer
            )
            commit = txn.commit(manifest, move_pointer=move, expected_generation=expected)
        except BaseException:
            self.stopping.set()
            txn.abort()
            raise
        duration = (time.monotonic() - self.started) * 1000
        self.manager.emit(
            "snapkit_snapshot_committed",
            events.SnapshotCommitted(
                commit.snapshot_id,
                manifest.status,
                self.store.key,
                commit.pointer.generation if commit.pointer else None,
            ),
        )
        if manifest.status == "failed":
            log.warning(
                "refresh %s failed: snapshot %s recorded, pointer unchanged",
                self.run_id[:12],
                commit.snapshot_id[:12],
            )
            self.manager.emit(
                "snapkit_refresh_failed",
                events.RefreshFailed(
                    self.run_id,
                    commit.snapshot_id,
                    tuple(e.code for e in manifest.errors),
                    duration,
                ),
            )
        else:
            log.info(
                "refresh %s committed snapshot %s (%s)",
                self.run_id[:12],
                commit.snapshot_id[:12],
                manifest.status,
            )
            self.manager.emit(
                "snapkit_refresh_finished",
                events.RefreshFinished(
                    self.run_id,
                    commit.snapshot_id,
                    manifest.status,
                    duration,
                    commit.pointer is not None,
                ),
            )
        return RefreshOutcome(
            commit.snapshot_id, manifest.status, commit.pointer is not None, manifest, duration
        )

    def _read_current(self) -> SnapshotManifest | None:
        """The current snapshot's manifest, read once per refresh: what a shrink compares
        with and what oracles see as :attr:`OracleCall.previous` (no part is read)."""
        try:
            return self.store.latest_successful()
        except SnapkitError as exc:  # a damaged store must not block the refresh that heals it
            log.warning(
                "refresh %s: the current snapshot cannot be read (%s): no shrink "
                "check, and oracles see no previous result",
                self.run_id[:12],
                type(exc).__name__,
            )
            return None

    # -- one oracle ------------------------------------------------------------------------

    def _run_oracle(self, key: str, txn: Transaction) -> OracleResult:
        descriptor = self.descriptors[key]
        started_at, start = utc_now(), time.monotonic()
        failed_inputs = [need for need in descriptor.requires if self.results[need].status != "ok"]
        attempts = 0
        if failed_inputs:
            error = ErrorInfo(
                "dependency_failed",
                f"oracle {key!r} was not run: it requires "
                + ", ".join(repr(n) for n in failed_inputs)
                + ", which did not load",
                key,
            )
            result = self._failure(descriptor, error, started_at, start, 0)
        elif self.cache is not None and (cached := self._from_cache(descriptor, txn)):
            result = cached
        elif self.remaining() <= 0:
            error = ErrorInfo(
                "deadline_exceeded",
                f"oracle {key!r} was not run: the refresh deadline "
                f"({self.settings.deadline:g} s) passed",
                key,
            )
            result = self._failure(descriptor, error, started_at, start, 0)
        else:
            counter = [0]
            metrics: dict[str, Any] = {}

            def attempt(n: int) -> tuple[Any, PartRef | None]:
                counter[0] = n
                if n > 1:
                    self.progress(Progress(key, "retrying", 0, n))
                return self._attempt(descriptor, txn, n, metrics)

            try:
                policy = RetryPolicy(attempts=self.settings.attempts, base=self.settings.backoff)
                (payload, part), attempts = call_with_retries(
                    attempt,
                    policy,
                    transient=descriptor.transient_errors,
                    sleep=lambda s: not self.stopping.wait(s),
                    remaining=self.remaining,
                )
                finished = time.monotonic()
                result = OracleResult(
                    key,
                    descriptor.version,
                    self.scope.id,
                    self.run_id,
                    "ok",
                    "loaded",
                    payload=payload,
                    part=part,
                    timings=Timings(
                        started_at, utc_now(), (finished - start) * 1000, attempts, metrics
                    ),
                )
                self.progress(Progress(key, "done", part.records if part else 0, attempts))
                if self.cache is not None and part is None:
                    self._to_cache(result)
            except Exception as exc:
                result = self._failure(
                    descriptor, _error_info(key, exc), started_at, start, counter[0], metrics
                )
        timings = result.timings
        self.manager.emit(
            "snapkit_oracle_completed",
            events.OracleCompleted(
                self.run_id,
                key,
                result.status,
                result.source,
                timings.attempts if timings else attempts,
                timings.duration_ms if timings else 0.0,
                result.part.records if result.part else None,
                result.error.code if result.error else None,
            ),
        )
        return result

    def _from_cache(self, descriptor: OracleDescriptor, txn: Transaction) -> OracleResult | None:
        """``refresh.use_cache``: the oracle's cached result (a record stream's bytes written
        into this snapshot's transaction), or ``None``; a cache error counts as a miss."""
        from snapkit.cache import CacheError

        try:
            hit = self.cache.lookup(
                self.scope, {descriptor.key: descriptor.version}, self.run_id
            ).get(descriptor.key)
        except CacheError as exc:
            log.warning("refresh %s: cache lookup failed: %s", self.run_id[:12], exc)
            return None
        if hit is None:
            return None
        if hit.result.part is not None:
            if hit.part_data is None:
                return None
            writer = txn.part_writer()
            writer.write(hit.part_data)
            sha, _size = writer.close()
            if sha != hit.result.part.sha256:
                return None
        self.progress(
            Progress(descriptor.key, "done", hit.result.part.records if hit.result.part else 0, 0)
        )
        result: OracleResult = hit.result
        return result

    def _to_cache(self, result: OracleResult) -> None:
        from snapkit.cache import CacheError

        try:
            self.cache.write(self.scope, result)
        except CacheError as exc:
            log.warning("refresh %s: cache write failed: %s", self.run_id[:12], exc)

    def _failure(
        self,
        descriptor: OracleDescriptor,
        error: ErrorInfo,
        started_at: str,
        start: float,
        attempts: int,
        metrics: Mapping[str, Any] | None = None,
    ) -> OracleResult:
        optional = descriptor.optional
        self.progress(Progress(descriptor.key, "skipped" if optional else "failed", 0, attempts))
        timings = Timings(
            started_at, utc_now(), (time.monotonic() - start) * 1000, attempts, metrics or {}
        )
        return OracleResult(
            descriptor.key,
            descriptor.version,
            self.scope.id,
            self.run_id,
            "skipped_optional" if optional else "failed",
            "skipped_optional" if optional else "error",
            error=error,
            timings=timings,
        )

    def _attempt(
        self, descriptor: OracleDescriptor, txn: Transaction, attempt: int, metrics: dict[str, Any]
    ) -> tuple[Any, PartRef | None]:
        """One try of one oracle, bounded by its timeout."""
        timeout = min(self.settings.timeout, self.remaining())
        if timeout <= 0:
            raise OracleTimeoutError(f"oracle {descriptor.key!r}: refresh deadline passed")
        cancelled = threading.Event()
        outcome: dict[str, Any] = {}
        writer_box: list[Any] = []
        # a record stream's timeout counts from its last batch: a stream that keeps
        # delivering is not hung, however long the whole table takes
        last_progress = [time.monotonic()]

        def work() -> None:
            try:
                outcome["value"] = self._load(
                    descriptor, txn, attempt, timeout, cancelled, writer_box, last_progress, metrics
                )
            except BaseException as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=work, name=f"snapkit-{descriptor.key}", daemon=True)
        thread.start()
        while True:
            idle = time.monotonic() - last_progress[0]
            wait = min(timeout - idle, self.remaining())
            if wait <= 0:
                break
            thread.join(min(wait, 0.5))
            if not thread.is_alive():
                break
        if thread.is_alive():
            cancelled.set()
            thread.join(1.0)
            for writer in writer_box:
                _abort_writer(writer)
            what = "sent no records for" if descriptor.records else "did not finish within"
            raise OracleTimeoutError(
                f"oracle {descriptor.key!r} {what} {timeout:g} s",
                hint="raise refresh.timeout or check the source",
            )
        if "error" in outcome:
            for writer in writer_box:
                _abort_writer(writer)
            raise outcome["error"]
        value: tuple[Any, PartRef | None] = outcome["value"]
        return value

    def _load(
        self,
        descriptor: OracleDescriptor,
        txn: Transaction,
        attempt: int,
        timeout: float,
        cancelled: threading.Event,
        writer_box: list[Any],
        last_progress: list[float],
        metrics: dict[str, Any],
    ) -> tuple[Any, PartRef | None]:
        settings = self.oracle_settings(descriptor)
        oracle: Any = descriptor.factory(dict(settings))
        load: Callable[[OracleCall], Any] = getattr(oracle, "load", oracle)
        call = OracleCall(
            scope=self.scope,
            settings=settings,
            inputs={need: OracleInput(self.results[need]) for need in descriptor.requires},
            request_token=self.run_id,
            timeout=timeout,
            attempt=attempt,
            cancelled=cancelled,
            metrics=metrics,
            previous=(
                PreviousResult.of(self.current, descriptor.key)
                if self.current is not None
                else None
            ),
        )
        payload = load(call)
        what = f"oracle {descriptor.key!r}"
        if not descriptor.records:
            check = make_check(descriptor.payload_schema, f"{what} payload")
            if check is not None:
                check(payload)
            return _plain_json(payload), None
        if isinstance(payload, dict | str | bytes) or not hasattr(payload, "__iter__"):
            raise ContractError(
                f"{what} declares records but returned "
                f"{type(payload).__name__}, not an iterable of records"
            )
        if descriptor.key_column is not None:
            payload = check_keys(payload, descriptor.table, descriptor.key_column)
        writer = txn.part_writer()
        writer_box.append(writer)
        check = make_check(descriptor.payload_schema, f"{what} record")

        def on_batch(count: int) -> None:
            last_progress[0] = time.monotonic()
            self.progress(Progress(descriptor.key, "running", count, attempt))

        sha, size, count = write_records(
            writer,
            payload,
            check=check,
            on_batch=on_batch,
            should_stop=lambda: cancelled.is_set() or self.stopping.is_set(),
        )
        writer_box.clear()
        if descriptor.key not in self.settings.allow_shrink:
            before = self.previous_counts.get(descriptor.table)
            check_shrink(descriptor.table, descriptor.key, before, count, self.settings.max_shrink)
        part = PartRef(descriptor.table, sha, count, size, descriptor.key, descriptor.key_column)
        return None, part

    # -- the manifest ----------------------------------------------------------------------

    def _manifest(self, started_at: str) -> SnapshotManifest:
        statuses = []
        errors = []
        payloads: dict[str, Any] = {}
        parts: list[PartRef] = []
        required_failed = False
        for key in sorted(self.results):
            result = self.results[key]
            descriptor = self.descriptors[key]
            statuses.append(
                OracleStatus(
                    key,
                    descriptor.version,
                    result.status,
                    result.source,
                    descriptor.optional,
                    result.error,
                )
            )
            if result.error is not None:
                errors.append(result.error)
                required_failed = required_failed or not descriptor.optional
            elif result.part is not None:
                parts.append(result.part)
            else:
                payloads[key] = result.payload
        status: SnapshotStatus
        if required_failed:
            status = "failed"
        elif errors:
            status = "partial"
        else:
            status = "success"
        if status == "failed":
            payloads, parts = {}, []
        finished_at = utc_now()
        timings = {key: r.timings for key, r in self.results.items() if r.timings is not None}
        return SnapshotManifest(
            scope=self.scope,
            schema_version=self.settings.schema_version,
            calculation_version=self.settings.calculation_version,
            status=status,
            errors=tuple(errors),
            oracles=tuple(statuses),
            payloads=payloads,
            parts=tuple(sorted(parts, key=lambda p: p.name)),
            created_at=finished_at,
            run=RunInfo(started_at, finished_at, (time.monotonic() - self.started) * 1000, timings),
        )


def _counts(current: SnapshotManifest | None) -> dict[str, int]:
    """Record counts by table in the current snapshot (what a shrink compares with)."""
    return {part.name: part.records for part in current.parts} if current is not None else {}


def _abort_writer(writer: Any) -> None:
    abort = getattr(writer, "abort", None)
    if abort is not None:
        try:
            abort()
        except OSError:
            log.warning("could not discard a staged part", exc_info=True)


def _plain_json(payload: Any) -> Any:
    """Check that a small payload is canonical JSON and return it as plain data."""
    from snapkit.canonical import canonical_str, loads

    return loads(canonical_str(payload)) if payload is not None else None


def _error_info(key: str, exc: BaseException) -> ErrorInfo:
    """Describe an oracle failure by type and message, never with payload values: a message
    that is not snapkit's own is left out (:func:`snapkit.errors.describe_exception`)."""
    if isinstance(exc, OracleTimeoutError):
        code = "oracle_timeout"
    elif isinstance(exc, IntegrityError):
        code = exc.reason
    elif isinstance(exc, PayloadValidationError):
        code = "validation_error"
    elif isinstance(exc, PayloadSchemaError):
        code = "invalid_schema"
    elif isinstance(exc, ContractError):
        code = "invalid_payload"
    elif isinstance(exc, SnapkitError):
        code = "oracle_error"
    else:
        code = "oracle_exception"
    return ErrorInfo(code, f"oracle {key!r}: {describe_exception(exc)}", key)
