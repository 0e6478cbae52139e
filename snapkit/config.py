"""Configuration: ``snapkit.toml`` or ``[tool.snapkit]`` in ``pyproject.toml``.

The file is validated twice with JSON Schema: first against the kernel's schema (below), then,
once plugins are loaded, each plugin's section against that plugin's settings schema. Every
error names the file, the key path and what was expected. Secrets are never written in the
file: a value ``{env = "NAME"}`` is read from the environment variable ``NAME`` (and is
validated as the string it stands for).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from snapkit.errors import ConfigError
from snapkit.manager import PluginSelection

if TYPE_CHECKING:
    from snapkit.contracts import Scope

CONFIG_FILE = "snapkit.toml"
ENV_CONFIG = "SNAPKIT_CONFIG"

_SECRET = {
    "type": "object",
    "properties": {"env": {"type": "string", "minLength": 1}},
    "required": ["env"],
    "additionalProperties": False,
}
_SETTINGS_BY_KEY = {"type": "object", "additionalProperties": {"type": "object"}}

KERNEL_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "snapkit configuration",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "plugins": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "enabled": {"type": "array", "items": {"type": "string"}},
                "blocked": {"type": "array", "items": {"type": "string"}},
                "autoload": {"type": "boolean"},
                "strict": {"type": "boolean"},
            },
        },
        "store": {
            "type": "object",
            "properties": {"kind": {"type": "string"}},
        },
        "cache": {
            "type": "object",
            "properties": {"kind": {"type": "string"}},
        },
        "scope": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "namespace": {"type": "string"},
                "context": {"type": "string"},
                "container": {"type": "string"},
                "filters": {"type": "object"},
            },
        },
        "refresh": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "oracles": {"type": "array", "items": {"type": "string"}},
                "concurrency": {"type": "integer", "minimum": 1, "maximum": 64},
                "timeout": {"type": "number", "exclusiveMinimum": 0},
                "deadline": {"type": "number", "exclusiveMinimum": 0},
                "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
                "backoff": {"type": "number", "minimum": 0},
                "partial_moves_pointer": {"type": "boolean"},
                "schema_version": {"type": "string"},
                "calculation_version": {"type": "string"},
                "lock_stale_after": {"type": "number", "exclusiveMinimum": 0},
                "max_shrink": {"type": "number", "minimum": 0, "maximum": 1},
                "allow_shrink": {"type": "array", "items": {"type": "string"}},
                "use_cache": {"type": "boolean"},
            },
        },
        "serve": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "host": {"type": "string"},
                "port": {"type": "integer", "minimum": 0, "maximum": 65535},
                "token": {"anyOf": [{"type": "string"}, _SECRET]},
                "refresh_per_minute": {"type": "integer", "minimum": 1},
                "refresh_nice": {"type": "integer", "minimum": 0, "maximum": 19},
                "workers": {"type": "integer", "minimum": 1, "maximum": 64},
            },
        },
        "search": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "index": {
                    "type": "object",
                    "description": "table -> fields to index at commit time",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "index_dir": {"type": "string"},
            },
        },
        "oracles": _SETTINGS_BY_KEY,
        "projections": _SETTINGS_BY_KEY,
        "serializers": _SETTINGS_BY_KEY,
        "datasets": _SETTINGS_BY_KEY,
        "diff_sections": _SETTINGS_BY_KEY,
        "commands": _SETTINGS_BY_KEY,
    },
}
"""The kernel's JSON Schema of the configuration file."""

SECTION_OF_KIND = {
    "oracle": "oracles",
    "projection": "projections",
    "serializer": "serializers",
    "dataset": "datasets",
    "diff_section": "diff_sections",
    "command": "commands",
}


@frozen
class RefreshSettings:
    """How refreshes run (``[refresh]``). Times are in seconds.

    :param max_shrink: the largest fraction (0 to 1) of its records a table may lose from
        the current snapshot to the next; a table that loses more fails its oracle.
    :param allow_shrink: oracle keys whose tables may shrink by any amount (even to empty).
    """

    oracles: tuple[str, ...] | None = None
    concurrency: int = 4
    timeout: float = 60.0
    deadline: float = 1800.0
    attempts: int = 3
    backoff: float = 0.5
    partial_moves_pointer: bool = False
    schema_version: str = "1"
    calculation_version: str = "1"
    lock_stale_after: float = 1800.0
    max_shrink: float = 0.5
    allow_shrink: tuple[str, ...] = ()
    use_cache: bool = False
    """Read and warm the ``[cache]`` during refresh (default off: a committed snapshot's
    oracles are loaded fresh)."""


@frozen
class ServeSettings:
    """The HTTP server (``[serve]``); ``token`` is the admin bearer token, if any.

    :param refresh_nice: how much lower than the server's the CPU priority of an admin
        refresh's process is (added to its nice value, 0 to 19), so that reads get the CPU
        first while a refresh runs.
    :param workers: how many server processes ``snapkit serve`` runs on its port (1 to 64).
    """

    host: str = "127.0.0.1"
    port: int = 8750
    token: str | None = field(default=None, repr=False)
    refresh_per_minute: int = 6
    refresh_nice: int = 10
    workers: int = 1


@frozen
class SearchSettings:
    """Search indexes (``[search]``): which table fields to index at commit time, and where."""

    index: Mapping[str, tuple[str, ...]] = field(factory=dict)
    index_dir: str = "snapkit-index"


@frozen
class Config:
    """A loaded, kernel-validated configuration.

    :param source: the file it came from (``None`` for the embedded defaults).
    :param root: the folder relative paths are resolved against.
    """

    source: Path | None
    root: Path
    plugins: PluginSelection = field(factory=PluginSelection)
    store_kind: str = "file"
    store_settings: Mapping[str, Any] = field(factory=dict)
    cache_kind: str | None = None
    cache_settings: Mapping[str, Any] = field(factory=dict)
    scope_data: Mapping[str, Any] = field(factory=dict)
    refresh: RefreshSettings = field(factory=RefreshSettings)
    serve: ServeSettings = field(factory=ServeSettings)
    search: SearchSettings = field(factory=SearchSettings)
    settings: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(factory=dict)

    @cached_property
    def scope(self) -> Scope:
        """The configured scope (``[scope]``; namespace ``default`` if none is given)."""
        from snapkit.contracts import Scope

        data = self.scope_data
        return Scope(
            namespace=data.get("namespace", "default"),
            context=data.get("context"),
            container=data.get("container"),
            filters=data.get("filters", {}),
        )

    @property
    def where(self) -> str:
        """How error messages name this configuration."""
        return str(self.source) if self.source else "the default configuration"

    def plugin_settings(self, kind: str, key: str) -> dict[str, Any]:
        """Return the settings of plugin ``key`` of ``kind``, secrets resolved."""
        if kind == "store":
            raw: Mapping[str, Any] = self.store_settings
            path = "store"
        elif kind == "cache_backend":
            raw, path = self.cache_settings, "cache"
        else:
            section = SECTION_OF_KIND.get(kind, kind)
            raw = self.settings.get(section, {}).get(key, {})
            path = f"{section}.{key}"
        resolved: dict[str, Any] = resolve_secrets(raw, path, self.where)
        return resolved

    def resolve_path(self, value: str | os.PathLike[str]) -> Path:
        """Resolve a path from the config relative to the config's folder."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else self.root / path


def resolve_secrets(value: Any, path: str, where: str) -> Any:
    """Replace every ``{"env": NAME}`` in ``value`` by the environment variable's value."""
    if isinstance(value, Mapping):
        if _is_secret(value):
            name = value["env"]
            if name not in os.environ:
                raise ConfigError(
                    f"{where}: {path} names environment variable {name}, which is not set",
                    hint=f"export {name}=... before running snapkit",
                )
            return os.environ[name]
        return {k: resolve_secrets(v, f"{path}.{k}", where) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_secrets(v, f"{path}[{i}]", where) for i, v in enumerate(value)]
    return value


def find_config(start: Path | None = None) -> Path | None:
    """Return the config file to use, or ``None`` if there is none.

    ``$SNAPKIT_CONFIG`` if set; else, from ``start`` (default: the current folder) upwards,
    the first folder holding ``snapkit.toml`` (first) or a ``pyproject.toml`` with a
    ``[tool.snapkit]`` table, as git and ruff look for theirs. The search stops after the
    folder holding ``.git`` (the top of a repository) or at the filesystem root.
    """
    env = os.environ.get(ENV_CONFIG)
    if env:
        return Path(env)
    folder = (start or Path.cwd()).absolute()
    for candidate_folder in (folder, *folder.parents):
        found = _config_in(candidate_folder)
        if found is not None:
            return found
        if (candidate_folder / ".git").exists():
            return None
    return None


def _config_in(folder: Path) -> Path | None:
    """``snapkit.toml`` in ``folder``, else its ``pyproject.toml`` if it has
    ``[tool.snapkit]``."""
    candidate = folder / CONFIG_FILE
    if candidate.is_file():
        return candidate
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, ValueError):  # unreadable, not UTF-8, or not TOML: not a config
            return None
        if "snapkit" in data.get("tool", {}):
            return pyproject
    return None


def resolve_setting_paths(
    settings: Mapping[str, Any], schema: Mapping[str, Any] | None, root: Path
) -> dict[str, Any]:
    """Make the relative paths of a plugin's settings absolute against ``root`` (the config
    file's folder).

    A setting is a path when the plugin's settings schema marks it ``"format": "path"``
    (at the top level, or in the ``properties`` of a nested object). ``~`` is expanded;
    absolute paths and every other setting are returned as they are. This is the one place
    the kernel resolves plugin paths, so a plugin gets a path it can open whatever the
    current folder is.
    """
    result = dict(settings)
    properties = (schema or {}).get("properties")
    if not isinstance(properties, Mapping):
        return result
    for key, sub in properties.items():
        if key not in result or not isinstance(sub, Mapping):
            continue
        value = result[key]
        if sub.get("format") == "path" and isinstance(value, str) and value:
            path = Path(value).expanduser()
            result[key] = str(path if path.is_absolute() else root / path)
        elif isinstance(value, Mapping) and isinstance(sub.get("properties"), Mapping):
            result[key] = resolve_setting_paths(value, sub, root)
    return result


def load_config(path: Path | str | None = None) -> Config:
    """Load and validate the configuration.

    :param path: a ``snapkit.toml`` or ``pyproject.toml``; ``None`` looks for one with
        :func:`find_config` and falls back to the embedded defaults.
    :raises ConfigError: naming the file, the key path and what was expected.
    """
    source = Path(path) if path is not None else find_config()
    if source is None:
        return config_from_data({}, None, Path.cwd())
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"config file {source} does not exist", hint="create one with 'snapkit init'"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {source}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}: not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line})",
            hint="TOML files are UTF-8; save the file as UTF-8",
        ) from None
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    if source.name == "pyproject.toml":
        data = data.get("tool", {}).get("snapkit", {})
    return config_from_data(data, source, source.parent.resolve())


def config_from_data(data: Mapping[str, Any], source: Path | None, root: Path) -> Config:
    """Validate a parsed configuration against the kernel schema and build a :class:`Config`."""
    where = str(source) if source else "the default configuration"
    if data:  # an empty configuration is valid; skipping it keeps jsonschema out of start-up
        validate_against(data, KERNEL_SCHEMA, where, "")
    plugins = data.get("plugins", {})
    store = dict(data.get("store", {}))
    cache = dict(data.get("cache", {}))
    scope = data.get("scope", {})
    refresh = dict(data.get("refresh", {}))
    for listed in ("oracles", "allow_shrink"):
        if listed in refresh:
            refresh[listed] = tuple(refresh[listed])
    serve = dict(data.get("serve", {}))
    if "token" in serve:
        serve["token"] = resolve_secrets(serve["token"], "serve.token", where)
    settings = {section: data.get(section, {}) for section in SECTION_OF_KIND.values()}
    if "namespace" in scope:
        from snapkit.errors import InvalidIdentifierError
        from snapkit.identifiers import check_name

        try:
            check_name(scope["namespace"], "namespace")
        except InvalidIdentifierError as exc:
            raise ConfigError(f"{where}: scope.namespace: {exc}") from None
    return Config(
        source=source,
        root=root,
        plugins=PluginSelection(
            enabled=plugins.get("enabled"),
            blocked=plugins.get("blocked", ()),
            autoload=plugins.get("autoload", True),
            strict=plugins.get("strict", False),
        ),
        store_kind=store.pop("kind", "file"),
        store_settings=store,
        cache_kind=cache.pop("kind", None),
        cache_settings=cache,
        scope_data=dict(scope),
        refresh=RefreshSettings(**refresh),
        serve=ServeSettings(**serve),
        search=SearchSettings(
            index={k: tuple(v) for k, v in data.get("search", {}).get("index", {}).items()},
            index_dir=data.get("search", {}).get("index_dir", "snapkit-index"),
        ),
        settings=settings,
    )


def validate_against(data: Any, schema: Mapping[str, Any], where: str, prefix: str) -> None:
    """Validate ``data`` with JSON Schema; raise :class:`ConfigError` naming the key path.

    :param prefix: the key path of ``data`` inside the file (``"oracles.users"``), or ``""``.
    """
    import jsonschema

    validator = jsonschema.Draft202012Validator(dict(schema))
    secrets = _secret_values(data)
    data = _secrets_as_strings(data)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        return
    error = jsonschema.exceptions.best_match(errors) or errors[0]
    parts = [prefix] if prefix else []
    parts += [str(p) for p in error.absolute_path]
    key = ".".join(parts) or "(top level)"
    if error.validator == "additionalProperties" and not error.absolute_path:
        key = prefix or "(top level)"
    message = _expected(error)
    for value, name in sorted(secrets.items(), key=lambda item: -len(item[0])):
        message = message.replace(value, f"${{{name}}}")  # a message never shows a secret
    raise ConfigError(f"{where}: {key}: {message}")


def _secret_values(value: Any) -> dict[str, str]:
    """The values of the environment variables ``value`` reads secrets from, by value."""
    if _is_secret(value):
        found = os.environ.get(value["env"], "")
        return {found: value["env"]} if found else {}
    items = (
        value.values() if isinstance(value, Mapping) else (value if isinstance(value, list) else ())
    )
    secrets: dict[str, str] = {}
    for item in items:
        secrets.update(_secret_values(item))
    return secrets


def _is_secret(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and set(value) == {"env"}
        and isinstance(value["env"], str)
        and bool(value["env"])
    )


def _secrets_as_strings(value: Any) -> Any:
    """Stand a string in for every ``{"env": NAME}`` so that schemas see what the plugin will
    get: the variable's value if it is set, else a placeholder (a missing variable is reported
    when the setting is used, by :func:`resolve_secrets`)."""
    if _is_secret(value):
        return os.environ.get(value["env"], f"${{{value['env']}}}")
    if isinstance(value, Mapping):
        return {k: _secrets_as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_secrets_as_strings(v) for v in value]
    return value


def _expected(error: Any) -> str:
    if error.validator == "additionalProperties":
        return f"{error.message}; {_spelling_hint(error)}"
    if error.validator == "type":
        return f"expected {error.validator_value}, got {type(error.instance).__name__}"
    return str(error.message)


def _spelling_hint(error: Any) -> str:
    """ "did you mean" the closest allowed name to an unexpected one, else where to look."""
    import difflib

    allowed = list(error.schema.get("properties", {}))
    instance = error.instance if isinstance(error.instance, Mapping) else {}
    for name in instance:
        if name in allowed:
            continue
        close = difflib.get_close_matches(str(name), allowed, n=1)
        if close:
            return f"did you mean {close[0]!r} for {name!r}?"
    return "check the spelling against 'snapkit init'"


def schema_problems(data: Any, schema: Mapping[str, Any], where: str, prefix: str) -> list[str]:
    """Every way ``data`` fails ``schema``, each worded as :func:`validate_against` words one
    (``"snapkit.toml: store.path: expected string, got int"``), secrets masked."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(dict(schema))
    secrets = _secret_values(data)
    errors = sorted(
        validator.iter_errors(_secrets_as_strings(data)),
        key=lambda e: list(map(str, e.absolute_path)),
    )
    messages = []
    for error in errors:
        parts = [prefix] if prefix else []
        if not (error.validator == "additionalProperties" and not error.absolute_path):
            parts += [str(p) for p in error.absolute_path]
        message = _expected(error)
        for value, name in sorted(secrets.items(), key=lambda item: -len(item[0])):
            message = message.replace(value, f"${{{name}}}")
        messages.append(f"{where}: {'.'.join(parts) or '(top level)'}: {message}")
    return messages
