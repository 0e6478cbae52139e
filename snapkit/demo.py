"""``snapkit demo``: the guided tour, on whichever demo scenario plugins register.

A scenario (see :class:`DemoScenario`) owns a data source: it starts it, writes the config
that points oracles at it, and changes it between two refreshes. The runner does the
snapkit part through the public :class:`snapkit.project.Project` API — refresh, refresh
again, diff, search, export, verify — so the demo shows exactly what a host or an operator
gets. A scenario may ask for exports (:class:`DemoExport`, through the optional
``exports`` method); each refreshes its own scope into ``<demo dir>/exports/store`` and
writes ``<demo dir>/exports/<name>.zip``, and is skipped, saying so, when the plugin that
provides its profile or oracles is not installed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from attrs import field, frozen

if TYPE_CHECKING:
    from snapkit.contracts import Scope


@frozen
class SearchExample:
    """A search the demo runs and explains.

    ``columns`` are the (dotted) fields shown for each row found; a dotted field reaching
    into a list shows every item's value, e.g. ``children.givenName``.
    """

    table: str
    query: str
    explain: str
    columns: tuple[str, ...] = ()


def describe_row(row: Any, columns: Sequence[str]) -> str:
    """One line for a found row: ``column=value`` for each column (all fields if none)."""
    from snapkit.search_core import _values, as_text

    if not columns:
        import json

        return json.dumps(row, ensure_ascii=False, sort_keys=True)
    shown = []
    for column in columns:
        values = [text for value in _values(row, column) if (text := as_text(value)) is not None]
        shown.append(f"{column}={', '.join(values) if values else '-'}")
    return "  ".join(shown)


@frozen
class DemoExport:
    """An export the demo runs after its searches (see :class:`ExportingScenario`).

    The runner refreshes ``scope`` with ``oracles`` into a store of its own
    (``<demo dir>/exports/store``, so the demo's own ``current`` snapshot stays the
    source's), derives the projections, writes ``profile`` to
    ``<demo dir>/exports/<name>.zip``, checks parity and prints the ZIP's path and files.

    :param name: the ZIP's file stem (e.g. a class's sourcedId).
    :param profile: the export profile.
    :param scope: the scope to refresh (context, container, filters).
    :param oracles: the oracles to refresh.
    :param config: additions to the demo's config, merged in table by table (e.g. the
        oracles' ``[oracles.KEY]`` settings). The store, ``[scope]`` and
        ``[refresh] oracles`` come from the fields above.
    :param explain: one line saying what is exported.
    :param plugin: the distribution that provides the profile and oracles, named when they
        are not installed (the step is then skipped).
    """

    name: str
    profile: str
    scope: Scope
    oracles: tuple[str, ...]
    config: Mapping[str, Any] = field(factory=dict)
    explain: str = ""
    plugin: str = ""


@runtime_checkable
class DemoScenario(Protocol):
    """A demo data source (returned by a :class:`snapkit.descriptors.DemoDescriptor`).

    A scenario may also implement ``exports(project) -> Sequence[DemoExport]``
    (:class:`ExportingScenario`); the runner looks it up with ``getattr``, so scenarios
    without exports need not define it.
    """

    title: str

    def start(self, folder: Path) -> str:
        """Start the source and return the text of a ``snapkit.toml`` that refreshes from it
        (its store path relative to ``folder``)."""
        ...

    def advance(self) -> str:
        """Change the source as a day would; return one line saying what changed."""
        ...

    def searches(self) -> Sequence[SearchExample]:
        """Searches worth showing on the refreshed data."""
        ...

    def close(self) -> None:
        """Stop the source."""


@runtime_checkable
class ExportingScenario(Protocol):
    """The optional part of a :class:`DemoScenario`: exports to show after the searches."""

    def exports(self, project: Any) -> Sequence[DemoExport]:
        """The exports to run, given the demo's project after its second refresh (read it,
        e.g. its current snapshot, to choose what to export); empty for none."""
        ...


def scenario_exports(scenario: Any, project: Any) -> list[DemoExport]:
    """The exports a scenario asks for (none when it has no ``exports`` method)."""
    exports = getattr(scenario, "exports", None)
    return list(exports(project)) if callable(exports) else []


def export_config(base: Mapping[str, Any], export: DemoExport) -> dict[str, Any]:
    """The configuration data an export refreshes with: the demo's ``base`` config without
    its search indexes, ``export.config`` merged in table by table, a file store at
    ``store`` (relative to the exports folder; a file store whatever the demo's own store
    is), the export's scope and oracles."""
    data = _merged(base, export.config)
    data.pop("search", None)
    store = data.get("store", {})
    data["store"] = (
        {**store, "path": "store"}
        if store.get("kind", "file") == "file"
        else {"kind": "file", "path": "store"}
    )
    scope = export.scope
    data["scope"] = {
        k: v
        for k, v in (
            ("namespace", scope.namespace),
            ("context", scope.context),
            ("container", scope.container),
        )
        if v is not None
    }
    if scope.filters:
        data["scope"]["filters"] = dict(scope.filters)
    data["refresh"] = {**data.get("refresh", {}), "oracles": list(export.oracles)}
    return data


def _merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if (
            isinstance(value, Mapping)
            and isinstance(out.get(key), Mapping)
            and set(value) != {"env"}
        ):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


Say = Callable[[str], None]


def choose_scenario(manager: Any, key: str | None) -> Any:
    """Return the demo descriptor named ``key``, or the one with the highest priority."""
    from snapkit.errors import UsageError

    registry = manager.registry("demo")
    if key is not None:
        return registry.get(key)
    candidates = sorted(registry, key=lambda d: (-d.priority, d.key))
    if not candidates:
        raise UsageError(
            "no demo scenario is installed",
            hint="install the repository's plugins: see README's quick start",
        )
    return candidates[0]


# -- the demo's store (``snapkit demo --store KIND --store-option KEY=VALUE``) -------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_store_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as a table; each value read as a TOML value (``5`` stays a number,
    ``{env = "NAME"}`` a secret reference), anything that is not one kept as a string.

    :raises UsageError: for a pair without ``=``, a key that is not a bare TOML key, ``kind``
        (that is ``--store``), or a key given twice.
    """
    import tomllib

    from snapkit.errors import UsageError

    table: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not _BARE_KEY.match(key):
            raise UsageError(
                f"--store-option {pair!r} is not KEY=VALUE", hint="e.g. --store-option bucket=demo"
            )
        if key == "kind":
            raise UsageError(
                "--store-option kind=... is not an option",
                hint="give the store's kind with --store KIND",
            )
        if key in table:
            raise UsageError(f"--store-option {key} is given twice", hint="give it once")
        try:
            value: Any = tomllib.loads(f"v = {raw.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        table[key] = value
    return table


def demo_store_table(
    kind: str, options: Mapping[str, Any], schema: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The demo config's ``[store]`` table: ``kind``, then ``options``; a store that takes a
    ``path`` gets one in the demo folder when none is given (``store`` for the file store,
    ``store.KIND`` otherwise, e.g. ``store.sqlite``).

    :raises UsageError: naming the first option the store's settings schema requires and
        ``options`` lacks.
    """
    from snapkit.errors import UsageError

    table: dict[str, Any] = {"kind": kind, **options}
    properties = (schema or {}).get("properties", {})
    if (schema is None or "path" in properties) and "path" not in table:
        table["path"] = "store" if kind == "file" else f"store.{kind}"
    for name in (schema or {}).get("required", []):
        if name not in table:
            raise UsageError(
                f"--store {kind} needs --store-option {name}=...",
                hint=f"see [store] for {kind!r} in docs/stores.md",
            )
    return table


def with_store_section(text: str, table: Mapping[str, Any]) -> str:
    """``text`` (a scenario's ``snapkit.toml``) with its ``[store]`` section replaced by
    ``table`` (appended when it has none); every other line is kept as it is."""
    lines = text.splitlines()
    section = ["[store]", *(f"{key} = {toml_value(value)}" for key, value in table.items())]
    start = next((i for i, line in enumerate(lines) if line.strip() == "[store]"), None)
    if start is None:
        out = [*lines, "", *section]
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")),
            len(lines),
        )
        while end > start + 1 and not lines[end - 1].strip():
            end -= 1
        out = [*lines[:start], *section, *lines[end:]]
    return "\n".join(out) + "\n"


def toml_value(value: Any) -> str:
    """``value`` (a string, bool, number, list or table of them) written as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + items + " }" if items else "{}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    from snapkit.errors import UsageError

    raise UsageError(
        f"a {type(value).__name__} cannot be a store option",
        hint='give a string, number, boolean, list or {env = "NAME"}',
    )


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else toml_value(key)
