"""The assembler (docs/cache.md, get-or-build): a snapshot bundle for one scope and
request token, from cache hits and fresh oracle loads.

:meth:`Assembler.get_or_build` consults the cache first, loads only the oracles it misses —
through the refresh engine's own oracle-loading code (retries, timeouts, payload validation,
``snapkit_oracle_completed`` events), in dependency order, each level in parallel — writes the
fresh results to the cache and assembles one :class:`SnapshotBundle` from the mixed envelopes
(sources ``cache``, ``loaded``, ``skipped_optional``, ``error``), carrying the token. Concurrent
builds of the same scope in one process, or in several sharing a Redis cache, load each missing
oracle once (the backend's miss coalescing).

A bundle is not committed anywhere: record streams live in memory (:class:`MemoryParts`), and
a failed required oracle does not discard the others' payloads, so every projection that does
not need it still derives (:meth:`SnapshotBundle.project`). Refresh, which commits snapshots,
uses the cache only when ``refresh.use_cache = true``.

:meth:`Assembler.runner` is the same loading code as a coordinator runner
(:mod:`snapkit.coordinator_driver`): it loads a ``LoadOracles`` action's oracles in a worker
thread and yields each result to the event loop as it completes.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from snapkit.cache import OracleCache
from snapkit.canonical import sha256_hex
from snapkit.config import RefreshSettings
from snapkit.contracts import (
    OracleResult,
    OracleStatus,
    PartRef,
    RunInfo,
    Scope,
    SnapshotManifest,
    SnapshotStatus,
    utc_now,
)
from snapkit.descriptors import OracleDescriptor
from snapkit.errors import UsageError
from snapkit.manager import PluginManager
from snapkit.planning import closure, plan_levels

if TYPE_CHECKING:
    from snapkit.coordinator import LoadOracles
    from snapkit.projection import ProjectionSet


class _MemoryPartWriter:
    def __init__(self, parts: MemoryParts) -> None:
        self._parts = parts
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> None:
        self._chunks.append(data)

    def close(self) -> tuple[str, int]:
        data = b"".join(self._chunks)
        sha = sha256_hex(data)
        self._parts.data[sha] = data
        return sha, len(data)

    def abort(self) -> None:
        self._chunks.clear()


class MemoryParts:
    """Record-stream parts held in memory, by SHA-256 (the assembler's stand-in for a store
    transaction: it only ever writes parts)."""

    def __init__(self, data: dict[str, bytes] | None = None) -> None:
        self.data: dict[str, bytes] = data if data is not None else {}

    def part_writer(self) -> _MemoryPartWriter:
        """A writer whose closed part lands in :attr:`data`."""
        return _MemoryPartWriter(self)


@frozen
class SnapshotBundle:
    """One assembled, uncommitted snapshot for a request: the manifest, each oracle's
    envelope (with its source), the bytes of its record streams, and the request token."""

    token: str
    scope: Scope
    manifest: SnapshotManifest
    results: Mapping[str, OracleResult] = field(factory=dict)
    part_data: Mapping[str, bytes] = field(factory=dict)

    @property
    def sources(self) -> dict[str, str]:
        """Each oracle's source: ``cache``, ``loaded``, ``skipped_optional`` or ``error``."""
        return {key: result.source for key, result in sorted(self.results.items())}

    def records(self, part: PartRef) -> Iterator[dict[str, Any]]:
        """Yield the records of one of the bundle's parts (a projection engine reader)."""
        import json

        data = self.part_data[part.sha256]
        for line in data.splitlines():
            if line:
                yield json.loads(line)

    def project(
        self,
        manager: PluginManager,
        keys: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
    ) -> ProjectionSet:
        """Derive projections from the bundle (each isolated; see :mod:`snapkit.projection`)."""
        from snapkit.projection import derive_all

        return derive_all(self.manifest, manager, reader=self.records, keys=keys, filters=filters)


class Assembler:
    """Builds snapshot bundles for scopes from the registered oracles and an optional cache.

    :param settings: per-call timeout, attempts, backoff, concurrency and deadline of loads
        (``[refresh]``; the same as refresh uses).
    :param oracle_settings: returns an oracle's settings (``Project.oracle_settings``).
    """

    def __init__(
        self,
        manager: PluginManager,
        *,
        cache: OracleCache | None = None,
        settings: RefreshSettings | None = None,
        oracle_settings: Callable[[OracleDescriptor], Mapping[str, Any]] | None = None,
    ) -> None:
        self.manager = manager
        self.cache = cache
        self.settings = settings or RefreshSettings()
        self.oracle_settings = oracle_settings or (lambda descriptor: {})

    @classmethod
    def from_project(cls, project: Any) -> Assembler:
        """An assembler for a :class:`snapkit.project.Project`, with its ``[cache]``."""
        from snapkit.cache import open_cache

        return cls(
            project.manager,
            cache=open_cache(project.config, project.manager),
            settings=project.config.refresh,
            oracle_settings=project.oracle_settings,
        )

    # -- planning ----------------------------------------------------------------------------

    def profile(self, oracles: Iterable[str] | None = None) -> tuple[str, ...]:
        """The oracles to hydrate: ``oracles`` (default ``refresh.oracles``) and everything
        they require, sorted.

        :raises UnknownKeyError: naming an oracle no plugin registers.
        """
        registry = self.manager.oracles
        wanted = list(oracles if oracles is not None else self.settings.oracles or ())
        if not wanted:
            raise UsageError(
                "no oracles to assemble", hint="name the oracles or list them in refresh.oracles"
            )
        for key in wanted:
            registry.get(key)
        return tuple(sorted(closure({d.key: d.requires for d in registry}, wanted)))

    def versions(self, keys: Iterable[str]) -> dict[str, str]:
        """The registered version of each oracle (cache keys are made of them)."""
        registry = self.manager.oracles
        return {key: registry.get(key).version for key in keys}

    # -- get_or_build ------------------------------------------------------------------------

    def get_or_build(
        self, scope: Scope, token: str, oracles: Iterable[str] | None = None
    ) -> SnapshotBundle:
        """Return the bundle of ``scope`` for request ``token``: cached results where the
        cache has them, every other oracle loaded (and cached if it loaded)."""
        started_at, start = utc_now(), time.monotonic()
        keys = self.profile(oracles)
        parts = MemoryParts()
        results: dict[str, OracleResult] = {}
        if self.cache is not None:
            for key, hit in self.cache.lookup(scope, self.versions(keys), token).items():
                results[key] = hit.result
                if hit.part_data is not None and hit.result.part is not None:
                    parts.data[hit.result.part.sha256] = hit.part_data
        missing = [key for key in keys if key not in results]
        if missing:
            self._load(scope, token, missing, results, parts, coalesce=True)
        return self._bundle(scope, token, keys, results, parts, started_at, start)

    def load(
        self,
        scope: Scope,
        token: str,
        oracles: Sequence[str],
        inputs: Mapping[str, OracleResult] | None = None,
        on_result: Callable[[OracleResult], None] | None = None,
        parts: MemoryParts | None = None,
        *,
        cancelled: threading.Event | None = None,
    ) -> dict[str, OracleResult]:
        """Load ``oracles`` (and what they require that ``inputs`` lacks) in dependency order;
        return every result by key, calling ``on_result`` (from worker threads) for each of
        ``oracles`` as it completes. Nothing is read from or written to the cache."""
        results = dict(inputs or {})
        self._load(
            scope,
            token,
            list(oracles),
            results,
            parts or MemoryParts(),
            coalesce=False,
            on_result=on_result,
            cancelled=cancelled,
        )
        return results

    def _load(
        self,
        scope: Scope,
        token: str,
        missing: Sequence[str],
        results: dict[str, OracleResult],
        parts: MemoryParts,
        *,
        coalesce: bool,
        on_result: Callable[[OracleResult], None] | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        from snapkit.refresh import _Run

        registry = self.manager.oracles
        requires = {d.key: d.requires for d in registry}
        needed = closure(requires, missing) - set(results)
        descriptors = {key: registry.get(key) for key in sorted(needed | set(results))}
        levels = plan_levels(
            {key: descriptors[key].requires if key in needed else () for key in descriptors}
        )
        # no store: the run reads no current snapshot, so every OracleCall.previous is None
        # (a bundle is built per request, not against the last known good snapshot)
        run = _Run(
            self.manager,
            None,  # type: ignore[arg-type]
            scope,
            self.settings,
            self.oracle_settings,
            descriptors,
            levels,
            token,
            None,
            None,
        )
        if cancelled is not None:
            run.stopping = cancelled
        run.results.update(results)
        reported = set(missing)

        def one(key: str) -> OracleResult:
            if not coalesce or self.cache is None:
                return run._run_oracle(key, parts)  # type: ignore[arg-type]
            descriptor = descriptors[key]

            def load() -> tuple[OracleResult, bytes | None]:
                result = run._run_oracle(key, parts)  # type: ignore[arg-type]
                data = parts.data.get(result.part.sha256) if result.part else None
                return result, data

            hit, _ = self.cache.get_or_load(scope, key, descriptor.version, load, token)
            if hit.part_data is not None and hit.result.part is not None:
                parts.data[hit.result.part.sha256] = hit.part_data
            return hit.result

        with ThreadPoolExecutor(
            max_workers=self.settings.concurrency, thread_name_prefix="snapkit-assemble"
        ) as pool:
            for level in levels:
                todo = [key for key in level if key in needed]
                futures = {key: pool.submit(one, key) for key in todo}
                for key, future in futures.items():
                    result = future.result()
                    run.results[key] = results[key] = result
                    if on_result is not None and key in reported:
                        on_result(result)

    def _bundle(
        self,
        scope: Scope,
        token: str,
        keys: Sequence[str],
        results: dict[str, OracleResult],
        parts: MemoryParts,
        started_at: str,
        start: float,
    ) -> SnapshotBundle:
        registry = self.manager.oracles
        statuses, errors, payloads, part_refs = [], [], {}, []
        required_failed = False
        for key in keys:
            result = results[key]
            descriptor = registry.get(key)
            statuses.append(
                OracleStatus(
                    key,
                    result.version,
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
                part_refs.append(result.part)
            elif result.status == "ok":
                payloads[key] = result.payload
        status: SnapshotStatus = "failed" if required_failed else "partial" if errors else "success"
        finished_at = utc_now()
        manifest = SnapshotManifest(
            scope=scope,
            schema_version=self.settings.schema_version,
            calculation_version=self.settings.calculation_version,
            status=status,
            errors=tuple(errors),
            oracles=tuple(statuses),
            payloads=payloads,
            parts=tuple(sorted(part_refs, key=lambda p: p.name)),
            created_at=finished_at,
            run=RunInfo(
                started_at,
                finished_at,
                (time.monotonic() - start) * 1000,
                {k: r.timings for k, r in results.items() if r.timings is not None},
            ),
        )
        data = {p.sha256: parts.data[p.sha256] for p in part_refs}
        return SnapshotBundle(token, scope, manifest, dict(sorted(results.items())), data)

    # -- the coordinator's runner ------------------------------------------------------------

    def runner(
        self, part_data: dict[str, bytes] | None = None
    ) -> Callable[[LoadOracles], AsyncIterator[OracleResult]]:
        """A coordinator runner (:data:`snapkit.coordinator_driver.Runner`) that loads with
        this assembler in a worker thread; ``part_data`` should be the driver's, so loaded
        record streams can be cached and read."""
        parts = MemoryParts(part_data)

        async def run(action: LoadOracles) -> AsyncIterator[OracleResult]:
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[OracleResult | BaseException | None] = asyncio.Queue()
            cancelled = threading.Event()

            def deliver(result: OracleResult) -> None:
                loop.call_soon_threadsafe(queue.put_nowait, result)

            def work() -> None:
                try:
                    self.load(
                        action.scope,
                        action.token,
                        action.oracles,
                        {r.oracle: r for r in action.inputs},
                        deliver,
                        parts,
                        cancelled=cancelled,
                    )
                    loop.call_soon_threadsafe(queue.put_nowait, None)
                except BaseException as exc:  # handed to the event loop below
                    loop.call_soon_threadsafe(queue.put_nowait, exc)

            thread = threading.Thread(target=work, name=f"snapkit-load-{action.token}", daemon=True)
            thread.start()
            try:
                while True:
                    item = await queue.get()
                    if item is None:
                        return
                    if isinstance(item, BaseException):
                        raise item
                    yield item
            finally:
                cancelled.set()

        return run
