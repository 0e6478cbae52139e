"""The hook specifications: every way a plugin extends snapkit (docs/plugin-kinds.md).

There are two groups. *Registration hooks* have one form, ``snapkit_register_<kind>(register)``:
the plugin calls ``register(descriptor)`` once per implementation, with a descriptor from
:mod:`snapkit.descriptors`. *Event hooks* receive one ``event`` (from :mod:`snapkit.events`)
and return nothing; they are the place for telemetry, logging and audit.

Implement a hook by defining a function of the same name in your plugin module, optionally
decorated with :data:`snapkit.hookimpl`. An implementation may take fewer arguments than the
specification, never others. The hook reference (docs/hooks.md) is generated from this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snapkit.markers import hookspec

Register = Callable[[Any], None]

# -- registration hooks ------------------------------------------------------------------


@hookspec
def snapkit_register_oracles(register: Register, config: Any) -> None:
    """Register oracles: each loads one payload (a JSON value or a record stream) for a scope.

    Call ``register(OracleDescriptor(...))`` once per oracle. ``config`` is the loaded
    :class:`snapkit.config.Config` (or ``None`` when no configuration is loaded); a plugin
    whose oracles are defined by configuration, such as the ``files`` plugin, reads it here.

    Example::

        @hookimpl
        def snapkit_register_oracles(register):
            register(OracleDescriptor(key="users", factory=UsersOracle, records=True,
                                      key_column="sourcedId"))
    """


@hookspec
def snapkit_register_cache_backends(register: Register) -> None:
    """Register cache backends: read-through storage of oracle results.

    Call ``register(CacheBackendDescriptor(...))`` once per backend.

    Example::

        @hookimpl
        def snapkit_register_cache_backends(register):
            register(CacheBackendDescriptor(key="memory", factory=MemoryCache))
    """


@hookspec
def snapkit_register_projections(register: Register) -> None:
    """Register projections: views derived from a snapshot and the scope's filters.

    Call ``register(ProjectionDescriptor(...))`` once per projection.

    Example::

        @hookimpl
        def snapkit_register_projections(register):
            register(ProjectionDescriptor(key="progress", factory=lambda s: derive_progress,
                                          requires=["results", "line_items"]))
    """


@hookspec
def snapkit_register_serializers(register: Register) -> None:
    """Register serializers: turn rows into a file format (CSV, JSONL, ...) as a stream.

    Call ``register(SerializerDescriptor(...))`` once per format.

    Example::

        @hookimpl
        def snapkit_register_serializers(register):
            register(SerializerDescriptor(key="tsv", extension="tsv", factory=TsvWriter))
    """


@hookspec
def snapkit_register_datasets(register: Register) -> None:
    """Register datasets: export units (a file built from projections) grouped into profiles.

    Call ``register(DatasetDescriptor(...))`` once per dataset.

    Example::

        @hookimpl
        def snapkit_register_datasets(register):
            register(DatasetDescriptor(key="progress", file_name="progress.csv",
                                       columns=["item", "rate"], requires=["progress"],
                                       profiles=["dashboard"], factory=progress_rows))
    """


@hookspec
def snapkit_register_stores(register: Register) -> None:
    """Register snapshot stores: persist snapshots, keep the current pointer, prune, verify.

    Call ``register(StoreDescriptor(...))`` once per store.

    Example::

        @hookimpl
        def snapkit_register_stores(register):
            register(StoreDescriptor(key="file", factory=FileStore.from_settings,
                                     settings_schema=FILE_STORE_SCHEMA))
    """


@hookspec
def snapkit_register_diff_sections(register: Register) -> None:
    """Register diff sections: each computes one named section of a diff, deterministically.

    Call ``register(DiffSectionDescriptor(...))`` once per section.

    Example::

        @hookimpl
        def snapkit_register_diff_sections(register):
            register(DiffSectionDescriptor(key="summary", factory=SummarySection, order=0))
    """


@hookspec
def snapkit_register_commands(register: Register) -> None:
    """Register CLI command groups, invoked as ``snapkit <key> ...``.

    Call ``register(CommandDescriptor(...))``; the factory returns a click command and is
    only called when that command runs.

    Example::

        @hookimpl
        def snapkit_register_commands(register):
            register(CommandDescriptor(key="oneroster", factory=lambda s: oneroster_group))
    """


@hookspec
def snapkit_register_demos(register: Register) -> None:
    """Register demo scenarios for ``snapkit demo``: a source that can be started, refreshed,
    changed and refreshed again.

    Call ``register(DemoDescriptor(...))``; the factory returns a
    :class:`snapkit.demo.DemoScenario` and is only called when the demo runs.

    Example::

        @hookimpl
        def snapkit_register_demos(register):
            register(DemoDescriptor(key="files", factory=FilesDemo, priority=0))
    """


@hookspec
def snapkit_register_search_views(register: Register) -> None:
    """Register search views: named searches over one table that add related rows.

    Call ``register(SearchViewDescriptor(...))``.

    Example::

        @hookimpl
        def snapkit_register_search_views(register):
            register(SearchViewDescriptor(key="guardians", table="users",
                                          factory=GuardiansView))
    """


# -- event hooks ---------------------------------------------------------------------------


@hookspec
def snapkit_refresh_started(event: Any) -> None:
    """Called when a refresh holds the lock and starts its oracles (``RefreshStarted``).

    Example::

        @hookimpl
        def snapkit_refresh_started(event):
            log.info("refresh %s started: %s", event.run_id, ",".join(event.oracles))
    """


@hookspec
def snapkit_oracle_completed(event: Any) -> None:
    """Called when an oracle call finishes, after its retries (``OracleCompleted``).

    Example::

        @hookimpl
        def snapkit_oracle_completed(event):
            metrics.timing(f"oracle.{event.oracle}", event.duration_ms)
    """


@hookspec
def snapkit_refresh_finished(event: Any) -> None:
    """Called when a refresh committed a success or partial snapshot (``RefreshFinished``).

    Example::

        @hookimpl
        def snapkit_refresh_finished(event):
            log.info("snapshot %s is %s", event.snapshot_id[:12], event.status)
    """


@hookspec
def snapkit_refresh_failed(event: Any) -> None:
    """Called when a refresh failed and recorded a failed snapshot (``RefreshFailed``).

    Example::

        @hookimpl
        def snapkit_refresh_failed(event):
            alert("refresh failed: " + ", ".join(event.error_codes))
    """


@hookspec
def snapkit_snapshot_committed(event: Any) -> None:
    """Called when a snapshot is written to a store (``SnapshotCommitted``).

    Example::

        @hookimpl
        def snapkit_snapshot_committed(event):
            audit.write(event.snapshot_id, event.status, event.generation)
    """


@hookspec
def snapkit_projection_status(event: Any) -> None:
    """Called after each projection is derived, with its status (``ProjectionStatusEvent``).

    Example::

        @hookimpl
        def snapkit_projection_status(event):
            if event.status != "ready":
                log.warning("%s is %s (%s)", event.projection, event.status, event.reason)
    """


@hookspec
def snapkit_export_finished(event: Any) -> None:
    """Called when an export is written or refused (``ExportFinished``).

    Example::

        @hookimpl
        def snapkit_export_finished(event):
            metrics.count("export." + event.status)
    """


@hookspec
def snapkit_diff_computed(event: Any) -> None:
    """Called when a diff between two snapshots is computed (``DiffComputed``).

    Example::

        @hookimpl
        def snapkit_diff_computed(event):
            log.info("diff %s..%s: %d changes", event.from_id[:8], event.to_id[:8],
                     event.changes)
    """


@hookspec
def snapkit_admin_refresh_attempted(event: Any) -> None:
    """Called on every call of the HTTP admin refresh endpoint, whatever its outcome
    (``AdminRefreshAttempted``: the client address, the outcome and HTTP status, the run id
    when a refresh started, the holder when one was already running). The event never holds
    the token, right or wrong, nor any record: it is safe to write to an audit log.

    Example::

        @hookimpl
        def snapkit_admin_refresh_attempted(event):
            audit.write("admin refresh", event.client, event.outcome, event.status_code)
    """


REGISTRATION_HOOKS: dict[str, str] = {
    "snapkit_register_oracles": "oracle",
    "snapkit_register_cache_backends": "cache_backend",
    "snapkit_register_projections": "projection",
    "snapkit_register_serializers": "serializer",
    "snapkit_register_datasets": "dataset",
    "snapkit_register_stores": "store",
    "snapkit_register_diff_sections": "diff_section",
    "snapkit_register_commands": "command",
    "snapkit_register_demos": "demo",
    "snapkit_register_search_views": "search_view",
}
"""Each registration hook and the kind it registers."""

EVENT_HOOKS: tuple[str, ...] = (
    "snapkit_refresh_started",
    "snapkit_oracle_completed",
    "snapkit_refresh_finished",
    "snapkit_refresh_failed",
    "snapkit_snapshot_committed",
    "snapkit_projection_status",
    "snapkit_export_finished",
    "snapkit_diff_computed",
    "snapkit_admin_refresh_attempted",
)
"""The event hooks, in the order a refresh-then-read session meets them."""


# -- coordinator event hooks (telemetry, docs/coordinator.md) -------------------------------
# Events from :mod:`snapkit.coordinator_events`: session id, tokens, scope identities, oracle
# keys, counts and milliseconds only. The coordinator's driver calls them.


@hookspec
def snapkit_scope_request_started(event: Any) -> None:
    """Called when a scope request becomes a session's one in-flight build
    (``ScopeRequestStarted``; ``queue_wait_ms`` is how long it waited in the queue).

    Example::

        @hookimpl
        def snapkit_scope_request_started(event):
            metrics.count("dashboard.request.started")
            metrics.timing("dashboard.request.queue_wait", event.queue_wait_ms)
    """


@hookspec
def snapkit_scope_request_queued(event: Any) -> None:
    """Called when a scope request waits behind the in-flight build in an empty queue
    (``ScopeRequestQueued``).

    Example::

        @hookimpl
        def snapkit_scope_request_queued(event):
            metrics.count("dashboard.request.queued")
    """


@hookspec
def snapkit_scope_request_queue_replaced(event: Any) -> None:
    """Called when a newer scope request replaces the queued one: latest intent wins
    (``ScopeRequestQueueReplaced``; ``replaced`` is the dropped request's token).

    Example::

        @hookimpl
        def snapkit_scope_request_queue_replaced(event):
            metrics.count("dashboard.request.queue_replaced")  # queue pressure
    """


@hookspec
def snapkit_scope_cache_consulted(event: Any) -> None:
    """Called when the cache answered a build's lookup (``ScopeCacheConsulted``):
    ``outcome`` is ``full_hit``, ``partial_hit`` or ``miss``, with hit and miss counts.

    Example::

        @hookimpl
        def snapkit_scope_cache_consulted(event):
            metrics.count("dashboard.cache." + event.outcome)
    """


@hookspec
def snapkit_scope_request_completed(event: Any) -> None:
    """Called when every oracle of a build resolved (``ScopeRequestCompleted``): counts by
    source, time to the first ready oracle and to the last, and whether it reached the UI.

    Example::

        @hookimpl
        def snapkit_scope_request_completed(event):
            metrics.timing("dashboard.request.complete", event.duration_ms)
            if event.first_ready_ms is not None:
                metrics.timing("dashboard.request.first_ready", event.first_ready_ms)
    """


@hookspec
def snapkit_scope_result_discarded(event: Any) -> None:
    """Called when an oracle result does not reach the UI (``ScopeResultDiscarded``):
    ``reason`` is ``superseded``, ``stale``, ``duplicate`` or ``forgotten``; ``written`` says
    whether it still warmed the cache.

    Example::

        @hookimpl
        def snapkit_scope_result_discarded(event):
            metrics.count("dashboard.result.discarded." + event.reason)
    """


@hookspec
def snapkit_scope_request_timeout(event: Any) -> None:
    """Called when a build ran past the hard timeout (``ScopeRequestTimedOut``): the oracles
    still missing get the timeout fallback and the session takes the next request.

    Example::

        @hookimpl
        def snapkit_scope_request_timeout(event):
            log.warning("request %s timed out; missing %s", event.token, event.missing)
    """


EVENT_HOOKS = (
    *EVENT_HOOKS,
    "snapkit_scope_request_started",
    "snapkit_scope_request_queued",
    "snapkit_scope_request_queue_replaced",
    "snapkit_scope_cache_consulted",
    "snapkit_scope_request_completed",
    "snapkit_scope_result_discarded",
    "snapkit_scope_request_timeout",
)
"""The event hooks, with the coordinator's telemetry hooks last."""
