"""The Python API: a configured project — config, plugins and store — and what it can do.

Everything the CLI does goes through here, so hosts get the same behaviour::

    from snapkit import open_project

    project = open_project("snapkit.toml")
    outcome = project.refresh()
    current = project.current()          # never fetches
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from snapkit.config import SECTION_OF_KIND, Config, load_config, validate_against
from snapkit.contracts import Scope, SnapshotInfo, SnapshotManifest, parse_time
from snapkit.descriptors import OracleDescriptor
from snapkit.errors import ConfigError, NoSnapshotError, SnapshotNotFoundError, UsageError
from snapkit.manager import PluginManager
from snapkit.store import (
    ListFilter,
    PointerTrail,
    PruneReport,
    RetentionPolicy,
    SnapshotStore,
    StoreLocation,
    VerifyReport,
    pointer_trail,
)

_RELATIVE = re.compile(r"^current(?:~(\d+))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Project:
    """A configuration with its plugins loaded and its store opened on first use."""

    def __init__(self, config: Config, manager: PluginManager) -> None:
        self.config = config
        self.manager = manager
        self._store: SnapshotStore | None = None

    @classmethod
    def load(cls, config: Config | str | Path | None = None,
             manager: PluginManager | None = None) -> Project:
        """Load the configuration and the plugins it selects, and check plugin settings."""
        if not isinstance(config, Config):
            config = load_config(config)
        if manager is None:
            manager = PluginManager(config.plugins, config)
            manager.load_entry_points()
        manager.check_strict()
        project = cls(config, manager)
        project.validate_settings()
        return project

    # -- settings --------------------------------------------------------------------------

    def validate_settings(self) -> None:
        """Check every plugin section of the config against that plugin's settings schema.

        :raises ConfigError: naming the file, the key path and what was expected.
        """
        where = self.config.where
        for kind, section in SECTION_OF_KIND.items():
            registry = self.manager.registry(kind)
            for key, value in self.config.settings.get(section, {}).items():
                if key not in registry:
                    import difflib

                    close = difflib.get_close_matches(key, registry.keys(), n=1)
                    raise ConfigError(
                        f"{where}: {section}.{key}: no {kind} {key!r} is installed",
                        hint=f"did you mean {close[0]!r}?" if close
                        else "install or enable its plugin, or remove the section",
                    )
                schema = registry.get(key).settings_schema
                if schema is not None:
                    validate_against(value, schema, where, f"{section}.{key}")
        store = self.manager.stores
        if self.config.store_kind in store:
            schema = store.get(self.config.store_kind).settings_schema
            if schema is not None:
                settings = dict(self.config.store_settings)
                settings.setdefault("path", "snapkit-data")
                validate_against(settings, schema, where, "store")
        if self.config.cache_kind is not None:  # [cache]: an installed kind, valid settings
            from snapkit.cache import validate_cache_config

            validate_cache_config(self.config, self.manager)

    def default_oracles(self) -> list[str]:
        """The oracles a refresh runs when none are named: ``refresh.oracles`` if set, else
        every oracle with a ``[oracles.KEY]`` section. Installing a plugin never adds to it."""
        if self.config.refresh.oracles:
            return list(self.config.refresh.oracles)
        return sorted(self.config.settings.get("oracles", {}))

    def oracle_settings(self, descriptor: OracleDescriptor) -> dict[str, Any]:
        """Return an oracle's settings from the config, secrets resolved."""
        return self.config.plugin_settings("oracle", descriptor.key)

    # -- the store -------------------------------------------------------------------------

    @property
    def store(self) -> SnapshotStore:
        """The configured snapshot store (built on first use)."""
        if self._store is None:
            descriptor = self.manager.stores.get(self.config.store_kind)
            settings = dict(self.config.plugin_settings("store", descriptor.key))
            path = settings.get("path", "snapkit-data")
            settings["path"] = str(self.config.resolve_path(path))
            self._store = descriptor.factory(settings)
        return self._store

    def missing_store_location(self) -> str | None:
        """Where the store would be, if it says it does not exist yet; else ``None``.

        Only stores with the optional :class:`snapkit.store.StoreLocation` can say so.
        "No snapshot yet" messages name this location, so a mistyped store path shows.
        """
        store = self.store
        if isinstance(store, StoreLocation) and not store.exists():
            return store.location
        return None

    def _no_snapshot_yet(self) -> NoSnapshotError:
        missing = self.missing_store_location()
        where = f" in {missing} (the store does not exist yet)" if missing else ""
        return NoSnapshotError(f"no snapshot yet{where}", hint="run 'snapkit refresh' first")

    # -- refresh ---------------------------------------------------------------------------

    def refresh(self, oracles: Sequence[str] | None = None, *, scope: Scope | None = None,
                progress: Any = None, take_lock: bool = True) -> Any:
        """Run a refresh and commit its snapshot; returns a :class:`RefreshOutcome`."""
        from snapkit.refresh import run_refresh

        outcome = run_refresh(self.manager, self.store, scope or self.config.scope,
                              self.config.refresh, self.oracle_settings,
                              oracles=oracles or self.default_oracles(),
                              progress=progress, take_lock=take_lock)
        if outcome.status != "failed" and self.config.search.index:
            import attrs

            from snapkit.search_index import build_configured_indexes

            # after the commit: an index that cannot be built is a warning, never a failure
            built = build_configured_indexes(self, outcome.manifest)
            if built.warnings:
                outcome = attrs.evolve(outcome, warnings=outcome.warnings + built.warnings)
        return outcome

    # -- reads (never fetch) ---------------------------------------------------------------

    def current(self) -> SnapshotManifest:
        """Return the latest successful snapshot (the pointer's target).

        :raises NoSnapshotError: if no snapshot has been committed yet (naming the store's
            location when the store does not exist, see :meth:`missing_store_location`).
        """
        manifest = self.store.latest_successful()
        if manifest is None:
            raise self._no_snapshot_yet()
        return manifest

    def resolve(self, ref: str) -> SnapshotManifest:
        """Find a snapshot by reference: an id or unique prefix, ``current``, ``current~N``
        (the snapshot the current pointer named N moves back, per the store's history; moves
        in a row to the same snapshot count once), ``latest`` (any status) or a date
        ``YYYY-MM-DD`` (the last snapshot of that UTC day that became current)."""
        ref = ref.strip()
        match = _RELATIVE.match(ref)
        if match:
            back = int(match.group(1) or 0)
            current = self.current()
            if back == 0:
                return current
            return self._pointer_back(ref, current, back)
        if ref == "latest":
            manifest = self.store.latest()
            if manifest is None:
                raise self._no_snapshot_yet()
            return manifest
        if _DATE.match(ref):
            try:
                day = _dt.datetime.strptime(ref, "%Y-%m-%d").replace(tzinfo=_dt.UTC)
            except ValueError:
                raise UsageError(f"{ref} is not a valid date") from None
            listed = self.store.list(
                ListFilter(status=("success",), since=day, until=day + _dt.timedelta(days=1)))
            became = [info for info in listed if info.became_current is not False]
            if not became:
                raise SnapshotNotFoundError(
                    f"no snapshot of {ref} (UTC) became current",
                    hint="list them with 'snapkit snapshots list'")
            return self.store.get(became[0].id)
        return self.store.get(ref)

    def _pointer_back(self, ref: str, current: SnapshotManifest, back: int
                      ) -> SnapshotManifest:
        """The snapshot the pointer named ``back`` moves before ``current``."""
        trail = pointer_trail(self.store.history(), self.store.read_pointer())
        if not trail.ids or trail.ids[-1] != current.id:
            trail = PointerTrail(ids=(current.id,), whole=False)
        target = trail.back(back)
        if target is None:
            lost = "" if trail.whole else "; the history before them was lost or damaged"
            raise SnapshotNotFoundError(
                f"{ref}: the current pointer has named only {len(trail.ids)} snapshot(s) "
                f"that the history records{lost}",
                hint="list them with 'snapkit snapshots list'",
            )
        try:
            return self.store.get(target)
        except SnapshotNotFoundError:
            raise SnapshotNotFoundError(
                f"{ref} is snapshot {target}, which is no longer in the store (pruned)",
                hint="list what is kept with 'snapkit snapshots list'",
            ) from None

    def snapshots(self, filters: ListFilter | None = None, limit: int | None = None
                  ) -> list[SnapshotInfo]:
        """List snapshot metadata, newest first."""
        return self.store.list(filters, limit)

    def records(self, ref: str, table: str) -> Iterator[dict[str, Any]]:
        """Yield the records of one table (part) of a snapshot, streaming."""
        from snapkit.parts import iter_records, require_table

        return iter_records(self.store, require_table(self.resolve(ref), table))

    def diff(self, from_ref: str, to_ref: str, *, sections: Sequence[str] | None = None,
             max_items: int | None = None) -> Any:
        """What changed between two snapshots (references as :meth:`resolve` takes them);
        returns a :class:`snapkit.contracts.Diff`. Never writes anything."""
        from snapkit.diff import diff_project

        return diff_project(self, from_ref, to_ref, sections=sections, max_items=max_items)

    def search(self, table: str, query: str, *, ref: str = "current", offset: int = 0,
               limit: int | None = 50, ignore_case: bool = False) -> Any:
        """Find rows of a table (or a registered search view) in a snapshot; returns a
        :class:`snapkit.search.SearchResult`. Never fetches."""
        from snapkit import search

        if table in self.manager.registry("search_view"):
            manifest = self.resolve(ref)
            if table not in {part.name for part in manifest.parts}:
                return search.search_view(self, manifest.id, table, query, offset=offset,
                                          limit=limit, ignore_case=ignore_case)
        return search.search_table(self, ref, table, query, offset=offset, limit=limit,
                                   ignore_case=ignore_case)

    def verify(self) -> VerifyReport:
        """Re-hash every manifest and part of the store, and check every search index
        (:func:`snapkit.search_index.verify_indexes`)."""
        report = self.store.verify()
        from snapkit.search_index import verify_indexes

        index_problems = verify_indexes(self)
        if index_problems:
            import attrs

            report = attrs.evolve(report, problems=(*report.problems, *index_problems))
        return report

    def prune(self, policy: RetentionPolicy, *, dry_run: bool = False) -> PruneReport:
        """Apply a retention policy to the store, and remove the search indexes of the parts
        it removed."""
        report = self.store.prune(policy, dry_run=dry_run)
        if not dry_run and report.removed_parts:
            from snapkit.search_index import remove_orphan_indexes

            remove_orphan_indexes(self)
        return report


def open_project(config: Config | str | Path | None = None) -> Project:
    """Load a project from a config file (or the one found in the current folder)."""
    return Project.load(config)


def age_seconds(manifest: SnapshotManifest, now: _dt.datetime | None = None) -> float:
    """Return how old a snapshot is, in seconds."""
    now = now or _dt.datetime.now(_dt.UTC)
    return (now - parse_time(manifest.created_at)).total_seconds()
