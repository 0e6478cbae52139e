"""The plugin manager: discovery through entry points, selection, registries, validation.

It wraps a :class:`pluggy.PluginManager` in typed methods (as tox does) and keeps a record of
every plugin it saw — loaded, broken or blocked — so that one broken plugin never takes down the
rest and ``snapkit plugins list`` can show what happened.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import inspect
import os
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple, cast

import pluggy
from attrs import evolve, field, frozen

from snapkit import hookspecs
from snapkit.descriptors import (
    KINDS,
    CacheBackendDescriptor,
    CommandDescriptor,
    DatasetDescriptor,
    Descriptor,
    DiffSectionDescriptor,
    OracleDescriptor,
    ProjectionDescriptor,
    SerializerDescriptor,
    StoreDescriptor,
)
from snapkit.errors import ConfigError, PluginLoadError
from snapkit.markers import PROJECT
from snapkit.registry import Registry


def _log() -> Any:
    """The plugins logger (``logging`` loads on first use, not at start-up)."""
    import logging

    return logging.getLogger("snapkit.plugins")


ENTRY_POINT_GROUP = "snapkit"
ENV_DISABLE_AUTOLOAD = "SNAPKIT_DISABLE_PLUGIN_AUTOLOAD"
ENV_STRICT = "SNAPKIT_STRICT_PLUGINS"
ENV_PLUGINS = "SNAPKIT_PLUGINS"

PluginStatus = Literal["ok", "load-error", "blocked"]
_HOOK_NAMES = frozenset([*hookspecs.REGISTRATION_HOOKS, *hookspecs.EVENT_HOOKS])


def normalize_name(name: str) -> str:
    """Normalize a plugin or distribution name for comparison (PEP 503 style)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def env_plugin_names() -> tuple[str, ...] | None:
    """The plugins ``$SNAPKIT_PLUGINS`` names (comma-separated entry-point, distribution or
    module names), or ``None`` if it is not set. Set but empty: no plugins."""
    raw = os.environ.get(ENV_PLUGINS)
    if raw is None:
        return None
    return tuple(name.strip() for name in raw.split(",") if name.strip())


def _optional_names(value: Iterable[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


def _names(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


class EntryPointInfo(NamedTuple):
    """One entry point of the ``snapkit`` group, with its distribution's name and version."""

    name: str
    value: str
    distribution: str | None
    version: str | None


_ENTRY_POINT_VALUE = re.compile(
    r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
)
"""The pattern of an entry point's value (as :class:`importlib.metadata.EntryPoint` reads it)."""


class _Unusual(Exception):
    """The fast discovery met something only :mod:`importlib.metadata` handles exactly."""


def _metadata_prepared(name: str) -> str:
    """Normalize a distribution name as :mod:`importlib.metadata` does to deduplicate."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None


def _headers(info: str) -> tuple[str, str]:
    """Return ``Name`` and ``Version`` of a distribution's ``METADATA`` (or ``PKG-INFO``)."""
    text = _read(os.path.join(info, "METADATA")) or _read(os.path.join(info, "PKG-INFO"))
    if not text:
        raise _Unusual(info)
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break
        if line[0] in " \t" or ":" not in line:
            raise _Unusual(info)  # folded or malformed headers: let the email parser decide
        key, _, value = line.partition(":")
        if not key or key != key.strip() or " " in key:
            raise _Unusual(info)
        found.setdefault(key.lower(), value.lstrip(" \t"))
    if not found.get("name") or not found.get("version"):
        raise _Unusual(info)
    return found["name"], found["version"]


def _scan_entry_points(group: str) -> list[EntryPointInfo]:
    """Find ``group``'s entry points in ``*.dist-info``/``*.egg-info`` folders on ``sys.path``.

    The same distributions, in the same order, as :func:`importlib.metadata.entry_points`
    (the first distribution of a name on ``sys.path`` wins), reading only the files needed.

    :raises _Unusual: for anything beyond plain folders of metadata (zip files, eggs, other
        distribution finders).
    """
    if any(
        getattr(finder, "find_distributions", None) is not None
        and finder is not importlib.machinery.PathFinder
        for finder in sys.meta_path
    ):
        raise _Unusual("another distribution finder is installed")
    found: list[EntryPointInfo] = []
    seen: set[str] = set()
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.exists(root):
                raise _Unusual(root) from None  # a zip file: importlib.metadata reads it
            continue
        if os.path.basename(entry).lower().endswith(".egg"):
            raise _Unusual(entry)
        infos: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                normalized = _metadata_prepared(low.rpartition(".")[0].partition("-")[0])
                infos.setdefault(normalized, []).append(child)
        for child in (child for group_ in infos.values() for child in group_):
            stem, ext = os.path.splitext(child)
            if ext not in (".dist-info", ".egg-info"):
                raise _Unusual(child)  # named by its metadata: importlib.metadata reads it
            unique = _metadata_prepared(stem.partition("-")[0])
            if unique in seen:
                continue
            seen.add(unique)
            info = os.path.join(entry, child)
            text = _read(os.path.join(info, "entry_points.txt"))
            if not text:
                continue
            section = None
            pairs = []
            for line in map(str.strip, text.splitlines()):
                if not line or line.startswith("#"):
                    continue
                if line.startswith("[") and line.endswith("]"):
                    section = line.strip("[]")
                    continue
                if section is None:
                    continue
                if "=" not in line:
                    raise _Unusual(info)
                name, _, value = line.partition("=")
                if section == group:
                    pairs.append((name.strip(), value.strip()))
            if pairs:
                dist_name, dist_version = _headers(info)
                found.extend(
                    EntryPointInfo(name, value, dist_name, dist_version) for name, value in pairs
                )
    return found


def discover_entry_points(group: str = "snapkit") -> list[EntryPointInfo]:
    """Return the entry points of ``group`` with their distributions' names and versions.

    Installed distributions are plain folders on ``sys.path``; they are read directly, which
    spares every command the import of :mod:`importlib.metadata` (and of :mod:`email`,
    :mod:`zipfile`, ...). Anything else (zip files, eggs, other finders) goes through
    :mod:`importlib.metadata`, with the same result.
    """
    try:
        return _scan_entry_points(group)
    except _Unusual:
        pass
    import importlib.metadata as metadata

    return [
        EntryPointInfo(
            ep.name,
            ep.value,
            ep.dist.name if ep.dist is not None else None,
            ep.dist.version if ep.dist is not None else None,
        )
        for ep in metadata.entry_points(group=group)
    ]


def load_entry_point(name: str, value: str, group: str = "snapkit") -> Any:
    """Import the object an entry point names, as :meth:`importlib.metadata.EntryPoint.load`."""
    match = _ENTRY_POINT_VALUE.match(value)
    if match is None:  # let importlib.metadata raise its own error
        import importlib.metadata as metadata

        return metadata.EntryPoint(name, value, group).load()
    module = importlib.import_module(match.group("module"))
    attrs = filter(None, (match.group("attr") or "").split("."))
    return functools.reduce(getattr, attrs, module)


@frozen
class PluginSelection:
    """Which plugins to load: an exact set, a block list, autoload and strict mode.

    Names may be entry-point names or distribution names; either is accepted.

    :param enabled: the exact set to load, or ``None`` for every installed plugin.
    :param blocked: plugins never to load, even if installed or enabled.
    :param autoload: discover plugins through entry points (``SNAPKIT_DISABLE_PLUGIN_AUTOLOAD=1``
        turns it off).
    :param strict: a plugin that fails to load or register is an error, not a warning
        (``SNAPKIT_STRICT_PLUGINS=1`` turns it on).
    """

    enabled: tuple[str, ...] | None = field(default=None, converter=_optional_names)
    blocked: tuple[str, ...] = field(default=(), converter=_names)
    autoload: bool = True
    strict: bool = False

    def with_environment(self, plugins: bool = True) -> PluginSelection:
        """Return this selection with the environment variables applied on top.

        :param plugins: apply ``$SNAPKIT_PLUGINS``: when set, it is the exact set to load
            (instead of ``plugins.enabled``), whether autoload is on or off; the block list
            still applies.
        """
        named = env_plugin_names() if plugins else None
        if named is not None:
            return evolve(
                self, enabled=named, autoload=True, strict=self.strict or _env_flag(ENV_STRICT)
            )
        return evolve(
            self,
            autoload=self.autoload and not _env_flag(ENV_DISABLE_AUTOLOAD),
            strict=self.strict or _env_flag(ENV_STRICT),
        )


@frozen
class Problem:
    """Something wrong with a plugin: the plugin's name, a code, and a message."""

    plugin: str
    code: str
    message: str


@frozen
class PluginRecord:
    """What the manager knows of one plugin, whether it loaded or not."""

    name: str
    distribution: str | None
    version: str | None
    module: str | None
    status: PluginStatus
    error: str | None = None
    hooks: tuple[str, ...] = ()
    registrations: tuple[tuple[str, str], ...] = ()


class _Pluggy(pluggy.PluginManager):
    """pluggy, taking any ``snapkit_*`` function as a hook implementation (as pytest does)."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name.startswith(PROJECT + "_"):
            method = inspect.getattr_static(plugin, name, None)
            if inspect.isfunction(method) or isinstance(method, staticmethod | classmethod):
                return {}
        return opts


class PluginManager:
    """Loads plugins and holds one registry per kind.

    Typical use::

        manager = PluginManager(PluginSelection())
        manager.load_entry_points()
        store_descriptor = manager.stores.get("file")
    """

    def __init__(
        self,
        selection: PluginSelection | None = None,
        config: Any = None,
        *,
        log_failures: bool = True,
        plugins_env: bool = True,
    ) -> None:
        """:param plugins_env: let ``$SNAPKIT_PLUGINS`` choose the plugins (a host that
        registers its own plugins turns it off)."""
        self.selection = (selection or PluginSelection()).with_environment(plugins_env)
        self._named_by_env = plugins_env and env_plugin_names() is not None
        self.config = config
        self.log_failures = log_failures
        self._pm = _Pluggy(PROJECT)
        self._pm.add_hookspecs(hookspecs)
        self._records: dict[str, PluginRecord] = {}
        self._problems: list[Problem] = []
        self._registries: dict[str, Registry[Any]] | None = None

    # -- loading ---------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Discover and load plugins from the ``snapkit`` entry-point group.

        Selection (exact set, block list) is applied before a plugin is imported. A plugin
        that fails to import or register is recorded as ``load-error``; the rest keep working.
        """
        if not self.selection.autoload:
            return
        enabled = (
            None
            if self.selection.enabled is None
            else {normalize_name(n) for n in self.selection.enabled}
        )
        blocked = {normalize_name(n) for n in self.selection.blocked}
        seen: set[str] = set()
        eps = sorted(discover_entry_points(ENTRY_POINT_GROUP), key=lambda ep: ep.name)
        for ep in eps:
            if ep.name in self._records:
                continue
            dist_name = ep.distribution
            dist_version = ep.version
            names = {normalize_name(ep.name)}
            if dist_name:
                names.add(normalize_name(dist_name))
            seen |= names
            reason = None
            if names & blocked:
                reason = "blocked by the configuration"
            elif enabled is not None and not names & enabled:
                reason = "not in the configured plugin set (plugins.enabled)"
            if reason:
                self._records[ep.name] = PluginRecord(
                    ep.name, dist_name, dist_version, ep.value, "blocked", reason
                )
                continue
            try:
                plugin = load_entry_point(ep.name, ep.value, ENTRY_POINT_GROUP)
            except Exception as exc:  # a broken plugin must not take down the rest
                self._fail(ep.name, dist_name, dist_version, ep.value, "load-error", exc)
                continue
            self.register(
                plugin, name=ep.name, distribution=dist_name, version=dist_version, module=ep.value
            )
        if self._named_by_env:  # $SNAPKIT_PLUGINS may name modules too (as PYTEST_PLUGINS)
            seen |= self._load_modules(
                [
                    n
                    for n in self.selection.enabled or ()
                    if normalize_name(n) not in seen and normalize_name(n) not in blocked
                ]
            )
        if enabled is not None:
            for name in sorted(enabled - seen - {normalize_name(n) for n in self._records}):
                self._problems.append(
                    Problem(
                        name,
                        "not-installed",
                        f"plugin {name!r} is named in "
                        f"{ENV_PLUGINS if self._named_by_env else 'plugins.enabled'} "
                        "but is not installed",
                    )
                )

    def _load_modules(self, names: list[str]) -> set[str]:
        """Import and register modules named in ``$SNAPKIT_PLUGINS`` that no entry point
        provides; return the (normalized) names that were found."""
        found: set[str] = set()
        for name in names:
            try:
                module = importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                    continue  # no such module: reported as not installed
                self._fail(name, None, None, name, "load-error", exc)
            except Exception as exc:  # a broken plugin must not take down the rest
                self._fail(name, None, None, name, "load-error", exc)
            else:
                self.register(module, name=name, module=name)
            found.add(normalize_name(name))
        return found

    def register(
        self,
        plugin: object,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
        module: str | None = None,
    ) -> bool:
        """Register a plugin object (a module, class or instance) directly.

        Hosts and tests use this for inline plugins. Returns whether it was registered; on
        failure the plugin is recorded as ``load-error`` with the reason.
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        module = module or getattr(plugin, "__name__", None)
        unknown = self._unknown_hooks(plugin)
        if unknown:
            attr, suggestion = unknown[0]
            hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
            message = f"unknown hook {attr!r}{hint}"
            self._problems.append(Problem(name, "unknown-hook", message))
            self._records[name] = PluginRecord(
                name, distribution, version, module, "load-error", message
            )
            return False
        try:
            self._pm.register(plugin, name=name)
        except pluggy.PluginValidationError as exc:
            message = " ".join(str(exc).split()) + self._allowed_arguments(plugin)
            self._problems.append(Problem(name, "bad-signature", message))
            self._records[name] = PluginRecord(
                name, distribution, version, module, "load-error", message
            )
            return False
        except ValueError as exc:
            self._fail(name, distribution, version, module, "load-error", exc)
            return False
        hooks = tuple(sorted(caller.name for caller in self._pm.get_hookcallers(plugin) or ()))
        self._records[name] = PluginRecord(name, distribution, version, module, "ok", None, hooks)
        self._registries = None
        return True

    def _allowed_arguments(self, plugin: object) -> str:
        """ "; snapkit_X accepts: a, b" for each hook of ``plugin`` asking for an argument its
        specification does not offer (a hook may take any subset of its arguments)."""
        import inspect

        notes = []
        for attr in sorted(dir(plugin)):
            caller = getattr(self._pm.hook, attr, None) if attr.startswith("snapkit_") else None
            spec = getattr(caller, "spec", None)
            function = getattr(plugin, attr, None)
            if spec is None or not callable(function):
                continue
            try:
                wanted = [p for p in inspect.signature(function).parameters if p != "self"]
            except (TypeError, ValueError):
                continue
            if set(wanted) - set(spec.argnames):
                allowed = ", ".join(spec.argnames) or "no arguments"
                notes.append(f"{attr} accepts: {allowed}")
        return "; " + "; ".join(notes) if notes else ""

    def unregister(self, name: str) -> None:
        """Remove a registered plugin by name (the testing kit uses this between tests)."""
        plugin = self._pm.get_plugin(name)
        if plugin is not None:
            self._pm.unregister(plugin)
        self._records.pop(name, None)
        self._registries = None

    def _fail(
        self,
        name: str,
        distribution: str | None,
        version: str | None,
        module: str | None,
        code: str,
        exc: BaseException,
    ) -> None:
        message = f"{type(exc).__name__}: {exc}"
        if self.log_failures:
            _log().warning("plugin %s failed to load: %s", name, message)
        self._problems.append(Problem(name, code, message))
        self._records[name] = PluginRecord(
            name, distribution, version, module, "load-error", message
        )

    def _unknown_hooks(self, plugin: object) -> list[tuple[str, str | None]]:
        unknown = []
        for attr in dir(plugin):
            opts = self._pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            hook_name = opts.get("specname") or attr
            if hook_name not in _HOOK_NAMES:
                import difflib  # only for a typo's suggestion

                close = difflib.get_close_matches(hook_name, sorted(_HOOK_NAMES), n=1)
                unknown.append((hook_name, close[0] if close else None))
        return unknown

    # -- registries ------------------------------------------------------------------------

    def _build_registries(self) -> dict[str, Registry[Any]]:
        registries: dict[str, Registry[Any]] = {kind: Registry(kind) for kind in KINDS}
        for name, plugin in sorted(self._pm.list_name_plugin(), key=lambda item: item[0]):
            if plugin is None:
                continue
            collected: list[Descriptor] = []
            try:
                for caller in self._pm.get_hookcallers(plugin) or ():
                    kind = hookspecs.REGISTRATION_HOOKS.get(caller.name)
                    if kind is None:
                        continue
                    for impl in caller.get_hookimpls():
                        if impl.plugin is plugin:
                            self._call_register(impl, kind, collected, self.config)
            except Exception as exc:  # a plugin failing to register is recorded, not fatal
                record = self._records.get(name)
                # a plugin rejecting its section of the config (a missing schema file...)
                # is a config problem the commands report as such (see check_strict)
                code = "config-error" if isinstance(exc, ConfigError) else "register-error"
                self._problems.append(Problem(name, code, f"{type(exc).__name__}: {exc}"))
                if record is not None:
                    self._records[name] = evolve(
                        record, status="load-error", error=f"{type(exc).__name__}: {exc}"
                    )
                continue
            for descriptor in collected:
                duplicate = registries[descriptor.kind].add(descriptor, name)
                if duplicate is not None:
                    self._problems.append(Problem(name, "duplicate-key", duplicate.message))
            record = self._records.get(name)
            if record is not None:
                self._records[name] = evolve(
                    record, registrations=tuple((d.kind, d.key) for d in collected)
                )
        return registries

    @staticmethod
    def _call_register(impl: Any, kind: str, collected: list[Descriptor], config: Any) -> None:
        expected = KINDS[kind]

        def register(descriptor: Any) -> None:
            if not isinstance(descriptor, expected):
                raise TypeError(
                    f"{impl.function.__name__} registered {type(descriptor).__name__}, "
                    f"expected {expected.__name__}"
                )
            collected.append(descriptor)

        available = {"register": register, "config": config}
        impl.function(**{arg: available[arg] for arg in impl.argnames})

    def _ensure_registries(self) -> dict[str, Registry[Any]]:
        if self._registries is None:
            self._problems = [
                p
                for p in self._problems
                if p.code not in {"register-error", "config-error", "duplicate-key"}
            ]
            self._registries = self._build_registries()
        return self._registries

    @property
    def registries(self) -> dict[str, Registry[Any]]:
        """Every registry by kind (built on first use, after all plugins are registered)."""
        return self._ensure_registries()

    def registry(self, kind: str) -> Registry[Any]:
        """Return the registry of ``kind`` (``"oracle"``, ``"store"``, ...)."""
        return self.registries[kind]

    @property
    def oracles(self) -> Registry[OracleDescriptor]:
        """Registered oracles."""
        return cast(Registry[OracleDescriptor], self.registries["oracle"])

    @property
    def cache_backends(self) -> Registry[CacheBackendDescriptor]:
        """Registered cache backends."""
        return cast(Registry[CacheBackendDescriptor], self.registries["cache_backend"])

    @property
    def projections(self) -> Registry[ProjectionDescriptor]:
        """Registered projections."""
        return cast(Registry[ProjectionDescriptor], self.registries["projection"])

    @property
    def serializers(self) -> Registry[SerializerDescriptor]:
        """Registered serializers."""
        return cast(Registry[SerializerDescriptor], self.registries["serializer"])

    @property
    def datasets(self) -> Registry[DatasetDescriptor]:
        """Registered datasets."""
        return cast(Registry[DatasetDescriptor], self.registries["dataset"])

    @property
    def stores(self) -> Registry[StoreDescriptor]:
        """Registered snapshot stores."""
        return cast(Registry[StoreDescriptor], self.registries["store"])

    @property
    def diff_sections(self) -> Registry[DiffSectionDescriptor]:
        """Registered diff sections."""
        return cast(Registry[DiffSectionDescriptor], self.registries["diff_section"])

    @property
    def commands(self) -> Registry[CommandDescriptor]:
        """Registered CLI commands."""
        return cast(Registry[CommandDescriptor], self.registries["command"])

    # -- records, problems, events ---------------------------------------------------------

    @property
    def records(self) -> list[PluginRecord]:
        """Every plugin seen, loaded or not, sorted by name."""
        self._ensure_registries()  # registration errors update the records
        return [self._records[name] for name in sorted(self._records)]

    @property
    def problems(self) -> list[Problem]:
        """Problems found while loading and registering plugins."""
        self._ensure_registries()
        return list(self._problems)

    def check_strict(self) -> None:
        """Raise :class:`ConfigError` if a plugin rejected its section of the configuration
        (always), and, in strict mode, :class:`PluginLoadError` if any plugin failed."""
        for problem in self.problems:
            if problem.code == "config-error":
                message = problem.message.removeprefix("ConfigError: ")
                raise ConfigError(message, hint=None)
        if self.selection.strict and self.problems:
            first = self.problems[0]
            raise PluginLoadError(
                f"plugin {first.plugin!r}: {first.message}",
                hint="fix or block the plugin, or turn strict mode off",
            )

    def hook_order(self, hook_name: str) -> list[str]:
        """Return the plugins implementing ``hook_name``, in the order pluggy calls them."""
        caller = getattr(self._pm.hook, hook_name, None)
        if caller is None:
            return []
        return [impl.plugin_name for impl in reversed(caller.get_hookimpls())]

    def emit(self, hook_name: str, event: Any) -> None:
        """Call an event hook; a failing event hook is logged, never raised."""
        caller = getattr(self._pm.hook, hook_name)
        try:
            caller(event=event)
        except Exception:
            _log().exception("event hook %s failed", hook_name)

    def add_hookcall_monitoring(self, before: Any, after: Any) -> Any:
        """Watch every hook call (the testing kit's recorder uses this)."""
        return self._pm.add_hookcall_monitoring(before, after)

    def is_registered(self, plugin: object) -> bool:
        """Whether this plugin object is registered (under any name)."""
        return bool(self._pm.is_registered(plugin))

    def plugin_names(self) -> Iterable[str]:
        """Names of the registered (loaded) plugins."""
        return [name for name, plugin in self._pm.list_name_plugin() if plugin is not None]

    def settings_for(self, descriptor: Descriptor, settings: Mapping[str, Any] | None) -> Any:
        """Build ``descriptor``'s implementation from settings (validated by the config)."""
        return descriptor.factory(dict(settings or {}))
