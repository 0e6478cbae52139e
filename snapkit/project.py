"""The Python API: a configured project — config, plugins and store — and what it can do.

Everything the CLI does goes through here, so hosts get the same behaviour::

    from snapkit import open_project

    project = open_project("snapkit.toml")
    outcome = project.refresh()
    current = project.current()          # never fetches

A host without a config file builds one from a mapping and its own plugin objects
(:meth:`Project.from_mapping`); see docs/python-api.md.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from attrs import evolve

from snapkit import gcpace
from snapkit.config import (
    SECTION_OF_KIND,
    Config,
    config_from_data,
    load_config,
    resolve_setting_paths,
    validate_against,
)
from snapkit.contracts import Scope, SnapshotInfo, SnapshotManifest, parse_time
from snapkit.descriptors import Descriptor, OracleDescriptor
from snapkit.errors import (
    ConfigError,
    NoSnapshotError,
    PluginLoadError,
    SnapshotNotFoundError,
    UsageError,
)
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

if TYPE_CHECKING:
    from snapkit.contracts import Diff
    from snapkit.export import ExportOutcome
    from snapkit.projection import ProjectionSet, TableCache
    from snapkit.refresh import RefreshOutcome
    from snapkit.search import SearchResult

_RELATIVE = re.compile(r"^current(?:~(\d+))?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class Project:
    """A configuration with its plugins loaded and its store opened on first use.

    :param gc_pacing: space CPython's garbage collections while refreshes and derivations
        run (:mod:`snapkit.gcpace`). It changes a setting of the whole interpreter, so it is
        off by default here; snapkit's command line turns it on.
    """

    def __init__(self, config: Config, manager: PluginManager, *, gc_pacing: bool = False) -> None:
        self.config = config
        self.manager = manager
        self.gc_pacing = gc_pacing
        self._store: SnapshotStore | None = None

    @classmethod
    def load(
        cls,
        config: Config | str | Path | None = None,
        manager: PluginManager | None = None,
        *,
        gc_pacing: bool = False,
    ) -> Project:
        """Load the configuration and the plugins it selects, and check plugin settings.

        :param config: a loaded :class:`Config`, a config file, or ``None`` to look for one
            (:func:`snapkit.config.find_config`).
        :param manager: plugins already loaded; default: the ones the config selects.
        """
        if not isinstance(config, Config):
            config = load_config(config)
        if manager is None:
            manager = PluginManager(config.plugins, config)
            manager.load_entry_points()
        manager.check_strict()
        project = cls(config, manager, gc_pacing=gc_pacing)
        project.validate_settings()
        return project

    @classmethod
    def from_mapping(
        cls,
        data: Mapping[str, Any],
        *,
        plugins: Iterable[object] = (),
        autoload: bool = False,
        root: str | os.PathLike[str] | None = None,
        gc_pacing: bool = False,
    ) -> Project:
        """Build a project from a configuration mapping and plugin objects, without a file.

        :param data: what a ``snapkit.toml`` would hold, as a mapping (validated the same way).
        :param plugins: plugin objects (modules, classes or instances with ``snapkit_*``
            hooks), registered in order.
        :param autoload: also load the installed plugins' entry points (as the config's
            ``[plugins]`` selects them); default off: only ``plugins``.
        :param root: the folder relative paths are resolved against (default: the current
            folder).
        :raises ConfigError: if the mapping or a plugin's settings are invalid.
        :raises PluginLoadError: if a plugin object cannot be registered (an unknown hook, a
            bad hook signature).
        """
        folder = Path(root if root is not None else Path.cwd()).expanduser().resolve()
        config = config_from_data(data, None, folder)
        if not autoload:
            config = evolve(config, plugins=evolve(config.plugins, autoload=False))
        manager = PluginManager(config.plugins, config, plugins_env=autoload)
        manager.load_entry_points()
        taken = set(manager.plugin_names())
        for index, plugin in enumerate(plugins):
            if manager.is_registered(plugin):  # already loaded through its entry point
                continue
            name = getattr(plugin, "__name__", None) or type(plugin).__name__
            if name in taken:
                name = f"{name}-{index}"
            taken.add(name)
            if not manager.register(plugin, name=name):
                problem = next(p for p in reversed(manager.problems) if p.plugin == name)
                raise PluginLoadError(
                    f"plugin {name!r}: {problem.message}", hint="fix the plugin object's hooks"
                )
        return cls.load(config, manager, gc_pacing=gc_pacing)

    def _paced(self) -> contextlib.AbstractContextManager[None]:
        """GC pacing for one call, if this project opted in (see :mod:`snapkit.gcpace`)."""
        return gcpace.enabled() if self.gc_pacing else contextlib.nullcontext()

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
                    from snapkit.config_check import missing_key_hint

                    raise ConfigError(
                        f"{where}: {section}.{key}: no {kind} {key!r} is installed",
                        hint=missing_key_hint(self.manager, key, registry.keys()),
                    )
                schema = registry.get(key).settings_schema
                if schema is not None:
                    validate_against(value, schema, where, f"{section}.{key}")
        store = self.manager.stores
        if self.config.store_kind not in store and (
            store.keys() or self.config.store_kind != "file"
        ):
            from snapkit.config_check import missing_key_hint

            raise ConfigError(
                f"{where}: store.kind: no store {self.config.store_kind!r} is installed",
                hint=missing_key_hint(self.manager, self.config.store_kind, store.keys()),
            )
        if self.config.store_kind in store:
            schema = store.get(self.config.store_kind).settings_schema
            if schema is not None:
                settings = dict(self.config.store_settings)
                if _takes_path(schema):
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
        """Return an oracle's settings from the config, secrets resolved and ``format: path``
        settings resolved against the config's folder (see :meth:`settings_for`)."""
        return self.settings_for(descriptor)

    def settings_for(self, descriptor: Descriptor) -> dict[str, Any]:
        """Return a plugin's settings from its section of the config, as its factory gets
        them: secrets (``{env = "NAME"}``) read, and every string its settings schema marks
        ``"format": "path"`` made absolute against the config file's folder
        (:func:`snapkit.config.resolve_setting_paths`)."""
        settings = self.config.plugin_settings(descriptor.kind, descriptor.key)
        return resolve_setting_paths(settings, descriptor.settings_schema, self.config.root)

    # -- the store -------------------------------------------------------------------------

    @property
    def store(self) -> SnapshotStore:
        """The configured snapshot store (built on first use)."""
        if self._store is None:
            descriptor = self.manager.stores.get(self.config.store_kind)
            settings = self.settings_for(descriptor)
            if _takes_path(descriptor.settings_schema):
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

    def refresh(
        self,
        oracles: Sequence[str] | None = None,
        *,
        scope: Scope | None = None,
        progress: Callable[[Any], None] | None = None,
        take_lock: bool = True,
    ) -> RefreshOutcome:
        """Run a refresh and commit its snapshot.

        :param oracles: the oracles to run (default: :meth:`default_oracles`).
        :param scope: the scope to refresh (default: the configured one).
        :param progress: called with each :class:`snapkit.refresh.Progress` update.
        :returns: the outcome: status, manifest, per-oracle results and warnings.
        """
        from snapkit.refresh import run_refresh

        with self._paced():
            outcome = run_refresh(
                self.manager,
                self.store,
                scope or self.config.scope,
                self.config.refresh,
                self.oracle_settings,
                oracles=oracles or self.default_oracles(),
                progress=progress,
                take_lock=take_lock,
            )
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
                ListFilter(status=("success",), since=day, until=day + _dt.timedelta(days=1))
            )
            became = [info for info in listed if info.became_current is not False]
            if not became:
                raise SnapshotNotFoundError(
                    f"no snapshot of {ref} (UTC) became current",
                    hint="list them with 'snapkit snapshots list'",
                )
            return self.store.get(became[0].id)
        return self.store.get(ref)

    def _pointer_back(self, ref: str, current: SnapshotManifest, back: int) -> SnapshotManifest:
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

    def snapshots(
        self, filters: ListFilter | None = None, limit: int | None = None
    ) -> list[SnapshotInfo]:
        """List snapshot metadata, newest first."""
        return self.store.list(filters, limit)

    def records(self, ref: str, table: str) -> Iterator[dict[str, Any]]:
        """Yield the records of one table (part) of a snapshot, streaming."""
        from snapkit.parts import iter_records, require_table

        return iter_records(self.store, require_table(self.resolve(ref), table))

    def _snapshot(self, snapshot: str | SnapshotManifest) -> SnapshotManifest:
        return snapshot if isinstance(snapshot, SnapshotManifest) else self.resolve(snapshot)

    def derive(
        self,
        snapshot: str | SnapshotManifest = "current",
        *,
        keys: Sequence[str] | None = None,
        filters: Mapping[str, Any] | None = None,
        cache: TableCache | None = None,
    ) -> ProjectionSet:
        """Derive projections from a snapshot (what ``snapkit project`` prints). Never
        fetches; a projection's own failure is its result's status, never an exception.

        :param snapshot: a reference as :meth:`resolve` takes it, or a manifest.
        :param keys: derive only these projections (default: every registered one).
        :param filters: overrides of the scope's filters (thresholds, windows).
        :param cache: keeps decoded parts between calls (:class:`snapkit.projection.TableCache`).
        :raises UnknownKeyError: if a key in ``keys`` is not registered.
        """
        from snapkit.projection import derive_all

        manifest = self._snapshot(snapshot)
        with self._paced():
            return derive_all(
                manifest,
                self.manager,
                store=self.store,
                keys=keys,
                filters=filters,
                settings=self.settings_for,
                cache=cache,
            )

    def export(
        self,
        profile: str,
        out: str | os.PathLike[str] | BinaryIO,
        snapshot: str | SnapshotManifest = "current",
        *,
        filters: Mapping[str, Any] | None = None,
        check_parity: bool = False,
    ) -> ExportOutcome:
        """Export a snapshot's projections as a ZIP of the profile's datasets (what
        ``snapkit export`` writes): derives the projections, then only transforms them —
        no oracle or store write is involved.

        :param out: a path (written atomically) or a binary stream.
        :param check_parity: re-read the written files and compare their fingerprints with
            the projections' and the manifest's; the outcome's ``parity`` holds the result.
        :raises ExportError: with a reason code; nothing is written at a path.
        """
        from snapkit.export import SnapshotBundle, export_snapshot
        from snapkit.export import check_parity as run_check

        manifest = self._snapshot(snapshot)
        bundle = SnapshotBundle.from_projection_set(
            manifest, self.derive(manifest, filters=filters)
        )
        if not check_parity:
            return export_snapshot(bundle, profile, self.manager, out, settings=self.settings_for)
        if isinstance(out, str | os.PathLike):
            outcome = export_snapshot(
                bundle, profile, self.manager, out, settings=self.settings_for
            )
            source: str | os.PathLike[str] | bytes = out
        else:  # a stream may not read back: check the bytes before handing them over
            buffer = io.BytesIO()
            outcome = export_snapshot(
                bundle, profile, self.manager, buffer, settings=self.settings_for
            )
            source = buffer.getvalue()
            out.write(source)
        parity = run_check(source, self.manager, bundle=bundle, settings=self.settings_for)
        return evolve(outcome, parity=parity)

    def diff(
        self,
        from_ref: str,
        to_ref: str,
        *,
        sections: Sequence[str] | None = None,
        max_items: int | None = None,
    ) -> Diff:
        """What changed between two snapshots (references as :meth:`resolve` takes them).
        Never writes anything."""
        from snapkit.diff import diff_project

        return diff_project(self, from_ref, to_ref, sections=sections, max_items=max_items)

    def search(
        self,
        table: str,
        query: str,
        *,
        ref: str = "current",
        offset: int = 0,
        limit: int | None = 50,
        ignore_case: bool = False,
        use_index: bool = True,
    ) -> SearchResult:
        """Find rows of a table (or a registered search view) in a snapshot. Never fetches.

        :param use_index: answer from the table's search indexes where they can
            (``[search] index``); ``False`` scans.
        """
        from snapkit import search

        if table in self.manager.registry("search_view"):
            manifest = self.resolve(ref)
            if table not in {part.name for part in manifest.parts}:
                return search.search_view(
                    self,
                    manifest.id,
                    table,
                    query,
                    offset=offset,
                    limit=limit,
                    ignore_case=ignore_case,
                )
        return search.search_table(
            self,
            ref,
            table,
            query,
            offset=offset,
            limit=limit,
            ignore_case=ignore_case,
            use_index=use_index,
        )

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


def _takes_path(schema: Mapping[str, Any] | None) -> bool:
    """Whether a store's settings have a ``path`` (a file or folder, resolved against the
    config's folder and defaulting to ``snapkit-data``); a store without a settings schema is
    assumed to. A database server's store (``postgresql``) has none and gets none."""
    return schema is None or "path" in schema.get("properties", {})
