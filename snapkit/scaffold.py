"""``snapkit new plugin NAME``: a plugin distribution to start from, as files.

:func:`plan_plugin` checks the name and the kinds; :func:`render_plugin` turns the plan into
``{relative path: text}`` (pure: same plan, same bytes); :func:`write_plugin` writes them into
a new folder. The package has one implementation of each chosen kind, registered by its
``plugin`` module (entry point group ``snapkit``), tests that use the testing kit
(:mod:`snapkit.testing`; ``StoreConformance`` for a store, ``CacheConformance`` for a cache
backend) and a README. The templates are the string constants below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from string import Template

from attrs import frozen

from snapkit.errors import UsageError

KINDS = (
    "oracle",
    "projection",
    "dataset",
    "diff_section",
    "store",
    "cache_backend",
    "serializer",
    "search_view",
)
"""The kinds ``--kind`` accepts, in the order the package lists them."""

DEFAULT_KINDS = ("oracle", "projection")

NEEDS = {
    "dataset": "projection",
    "projection": "oracle",
    "search_view": "oracle",
    "diff_section": "oracle",
}
"""A kind whose template reads another kind's output brings that kind along."""

KERNEL_RANGE = "snapkit-core>=0.2,<0.3"
FILE_STORE = "snapkit-file-store>=0.1,<0.2"
CACHE = "snapkit-cache>=0.1,<0.2"
SERIALIZERS = "snapkit-serializers>=0.1,<0.2"

_NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")


@frozen
class PluginPlan:
    """What to generate: the plugin's name (its entry point and keys), the distribution and
    package names, and the kinds (closed under :data:`NEEDS`, in :data:`KINDS` order)."""

    name: str
    distribution: str
    package: str
    kinds: tuple[str, ...]


def plan_plugin(name: str, kinds: Iterable[str] = DEFAULT_KINDS) -> PluginPlan:
    """Check ``name`` and ``kinds`` and return the plan.

    :raises UsageError: for a name that is not lowercase words joined by ``-`` or an unknown
        kind (with the known ones).
    """
    name = name.removeprefix("snapkit-")
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid plugin name {name!r}",
            hint="use lowercase letters and digits, words joined by '-' (e.g. acme-crm)",
        )
    wanted = set()
    for kind in kinds:
        kind = kind.strip().replace("-", "_")
        if kind not in KINDS:
            raise UsageError(f"unknown kind {kind!r}", hint="choose from " + ", ".join(KINDS))
        while kind:
            wanted.add(kind)
            kind = NEEDS.get(kind, "")
    if not wanted:
        raise UsageError("no kind chosen", hint="choose from " + ", ".join(KINDS))
    return PluginPlan(
        name=name,
        distribution=f"snapkit-{name}",
        package="snapkit_" + name.replace("-", "_"),
        kinds=tuple(k for k in KINDS if k in wanted),
    )


def render_plugin(plan: PluginPlan) -> dict[str, str]:
    """The package's files, by path relative to its folder."""
    values = _values(plan)
    package = f"src/{plan.package}"
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{package}/__init__.py": _INIT,
        f"{package}/py.typed": "",
        f"{package}/plugin.py": _plugin_module(plan),
        "tests/test_plugin.py": _TEST_PLUGIN,
    }
    for kind in plan.kinds:
        files[f"{package}/{kind}.py"] = _MODULES[kind]
        files[f"tests/test_{kind}.py"] = _TESTS[kind]
    return {path: Template(text).substitute(values) for path, text in sorted(files.items())}


def write_plugin(plan: PluginPlan, folder: Path) -> list[Path]:
    """Write the package into ``folder`` (which must not exist or be empty); return the files.

    :raises UsageError: if ``folder`` holds anything.
    """
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise UsageError(
            f"{folder} already exists and is not empty",
            hint="choose another folder with --dir, or remove it",
        )
    written = []
    for relative, text in render_plugin(plan).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def _values(plan: PluginPlan) -> Mapping[str, str]:
    dependencies = [KERNEL_RANGE]
    if "store" in plan.kinds:
        dependencies.append(FILE_STORE)
    if "cache_backend" in plan.kinds:
        dependencies.append(CACHE)
    test = ["pytest>=8", FILE_STORE]
    if "dataset" in plan.kinds and "serializer" not in plan.kinds:
        dependencies.append(SERIALIZERS)
    title = plan.name.replace("-", " ").title().replace(" ", "")
    return {
        "name": plan.name,
        "key": plan.name,
        "dist": plan.distribution,
        "pkg": plan.package,
        "Title": title,
        "dependencies": "".join(f'    "{d}",\n' for d in dependencies),
        "test_dependencies": ", ".join(f'"{d}"' for d in test),
        "kinds": ", ".join(k.replace("_", " ") for k in plan.kinds),
        "kind_list": "".join(f"- `{plan.package}.{k}`: {_ABOUT[k]}\n" for k in plan.kinds),
        "serializer": plan.name if "serializer" in plan.kinds else "csv",
    }


def _plugin_module(plan: PluginPlan) -> str:
    hooks = []
    for kind in plan.kinds:
        hook, register = _HOOKS[kind]
        hooks.append(
            f"""

@hookimpl
def {hook}(register: Callable[[Any], None]) -> None:
    \"\"\"Register the ${{kinds_of_{kind}}}.\"\"\"
    from $pkg.{kind} import DESCRIPTOR

    register(DESCRIPTOR)
""".replace(f"${{kinds_of_{kind}}}", register)
        )
    return _PLUGIN_HEAD + "".join(hooks)


_ABOUT = {
    "oracle": "an oracle loading records (replace the generated ones with your source's)",
    "projection": "a projection deriving a summary from the oracle's records",
    "dataset": "a dataset: one export file built from the projection",
    "diff_section": "a diff section comparing the oracle's record counts",
    "store": "a snapshot store (it starts as the file store; replace its storage)",
    "cache_backend": "a cache backend (it starts as the in-memory one; replace its storage)",
    "serializer": "a serializer writing rows as tab-separated values",
    "search_view": "a search view over the oracle's table",
}

_HOOKS = {
    "oracle": ("snapkit_register_oracles", "oracle"),
    "projection": ("snapkit_register_projections", "projection"),
    "dataset": ("snapkit_register_datasets", "dataset"),
    "diff_section": ("snapkit_register_diff_sections", "diff section"),
    "store": ("snapkit_register_stores", "snapshot store"),
    "cache_backend": ("snapkit_register_cache_backends", "cache backend"),
    "serializer": ("snapkit_register_serializers", "serializer"),
    "search_view": ("snapkit_register_search_views", "search view"),
}

_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "$dist"
version = "0.1.0"
description = "snapkit plugin $name: $kinds."
readme = "README.md"
requires-python = ">=3.11"
dependencies = [
$dependencies]

[project.optional-dependencies]
test = [$test_dependencies]

[project.entry-points.snapkit]
$name = "$pkg.plugin"

[tool.setuptools.packages.find]
where = ["src"]

[tool.setuptools.package-data]
$pkg = ["py.typed"]

[tool.pytest.ini_options]
testpaths = ["tests"]
addopts = ["--strict-markers"]
"""

_README = """\
# $dist

A snapkit plugin: $kinds.

$kind_list
## Install and test

```console
$$ pip install -e '.[test]'
$$ pytest
$$ snapkit plugins list          # shows $name
$$ snapkit plugins validate      # checks the hooks, and your config's sections
```

## Configure

```toml
# snapkit.toml
[oracles.$key]
count = 3
```

The plugin's entry point (`$name = "$pkg.plugin"`, group `snapkit`) is how snapkit finds it;
`[plugins] enabled = [...]` in the config or `SNAPKIT_PLUGINS` can limit what loads.
"""

_INIT = """\
\"\"\"snapkit plugin $name.\"\"\"

__version__ = "0.1.0"
"""

_PLUGIN_HEAD = """\
\"\"\"The hooks of plugin $name: each registers one descriptor.

Importing this module is cheap: the implementations load when their hook runs.
\"\"\"

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from snapkit import hookimpl
"""

_ORACLE = """\
\"\"\"Oracle ``$key``: loads the records a snapshot freezes (``[oracles.$key]`` settings).\"\"\"

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from snapkit.descriptors import OracleDescriptor
from snapkit.errors import TransientOracleError

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "count": {"type": "integer", "minimum": 0, "description": "how many records"},
    },
}


class ${Title}Oracle:
    \"\"\"Built once per refresh from its settings; ``load(call)`` returns the records.\"\"\"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.count = int(settings.get("count", 3))

    def load(self, call: Any) -> Iterator[dict[str, Any]]:
        \"\"\"Yield the records (``call.timeout`` says how long the source may take; raise
        :class:`TransientOracleError` for a failure worth retrying).\"\"\"
        for number in range(1, self.count + 1):
            yield {"id": number, "name": f"item {number}"}


DESCRIPTOR = OracleDescriptor(
    key="$key",
    version="1",
    factory=${Title}Oracle,
    settings_schema=SETTINGS_SCHEMA,
    records=True,
    key_column="id",
    transient_errors=(TransientOracleError,),
    description="the records of $name",
)
"""

_PROJECTION = """\
\"\"\"Projection ``$key``: a summary derived from oracle ``$key``'s records.\"\"\"

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.descriptors import ProjectionDescriptor


def derive(inputs: Any) -> dict[str, Any]:
    \"\"\"Count the records and list their names (``inputs`` is a
    :class:`snapkit.projection.ProjectionInputs`).\"\"\"
    records = inputs.table("$key")
    return {"count": len(records), "names": sorted(str(r["name"]) for r in records)}


def make(settings: Mapping[str, Any]) -> Any:
    \"\"\"The projection's ``derive`` function (settings: ``[projections.$key]``).\"\"\"
    return derive


DESCRIPTOR = ProjectionDescriptor(key="$key", version="1", factory=make, requires=["$key"],
                                  description="how many records $name holds, and their names")
"""

_DATASET = """\
\"\"\"Dataset ``$key``: one export file, a row per name of projection ``$key``.\"\"\"

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from snapkit.descriptors import DatasetDescriptor


def rows(projections: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    \"\"\"The rows, by column, from the projections' values (by projection key).\"\"\"
    for position, name in enumerate(projections["$key"]["names"], start=1):
        yield {"position": position, "name": name}


def make(settings: Mapping[str, Any]) -> Any:
    \"\"\"The dataset's ``rows`` function (settings: ``[datasets.$key]``).\"\"\"
    return rows


DESCRIPTOR = DatasetDescriptor(key="$key", version="1", factory=make, file_name="$key.csv",
                               columns=["position", "name"], requires=["$key"],
                               serializer="$serializer", profiles=["$key"],
                               description="the names of $name's records")
"""

_DIFF_SECTION = """\
\"\"\"Diff section ``$key``: how oracle ``$key``'s record count changed between snapshots.\"\"\"

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.contracts import DiffSection, SnapshotManifest
from snapkit.descriptors import DiffSectionDescriptor
from snapkit.diff import DiffContext


def _records(manifest: SnapshotManifest) -> int | None:
    return next((p.records for p in manifest.parts if p.name == "$key"), None)


class ${Title}Section:
    \"\"\"Compares the manifests only (no part is read).\"\"\"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)

    def applies(self, a: SnapshotManifest, b: SnapshotManifest) -> bool:
        \"\"\"Whether either snapshot holds the table.\"\"\"
        return _records(a) is not None or _records(b) is not None

    def compute(self, context: DiffContext) -> DiffSection:
        \"\"\"The counts before and after, and whether the table was added or removed.\"\"\"
        before, after = _records(context.a), _records(context.b)
        return DiffSection(
            name="$key",
            added=int(before is None and after is not None),
            removed=int(before is not None and after is None),
            changed=int(None not in (before, after) and before != after),
            data={"records": {"from": before, "to": after}},
        )


DESCRIPTOR = DiffSectionDescriptor(key="$key", version="1", factory=${Title}Section,
                                   description="record count of $name's table")
"""

_STORE = """\
\"\"\"Snapshot store ``$key``: it starts as the file store; replace its storage.

Whatever you change, :class:`snapkit.testing.store_kit.StoreConformance` (tests/test_store.py)
says what must still hold: atomic commits, the current pointer, leases, recovery.
\"\"\"

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.descriptors import StoreDescriptor
from snapkit_file_store.plugin import SCHEMA
from snapkit_file_store.store import FileStore


class ${Title}Store(FileStore):
    \"\"\"The ``$key`` store (settings: the ``[store]`` table with ``kind = "$key"``).\"\"\"


def make(settings: Mapping[str, Any]) -> ${Title}Store:
    \"\"\"Build the store from validated settings (``path`` is resolved by snapkit).\"\"\"
    return ${Title}Store.from_settings(settings)


DESCRIPTOR = StoreDescriptor(key="$key", version="1", factory=make, settings_schema=SCHEMA,
                             description="snapshots of $name")
"""

_CACHE_BACKEND = """\
\"\"\"Cache backend ``$key``: it starts as the in-memory backend; replace its storage.

:class:`snapkit.testing.cache_kit.CacheConformance` (tests/test_cache_backend.py) says what
must hold: TTL, capacity, groups, one load per concurrent miss.
\"\"\"

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from snapkit.descriptors import CacheBackendDescriptor
from snapkit_cache.memory import MemoryCache

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "ttl": {"type": "number", "exclusiveMinimum": 0},
        "capacity": {"type": "integer", "minimum": 1},
    },
}


class ${Title}Cache(MemoryCache):
    \"\"\"The ``$key`` cache backend (``[cache]`` with ``kind = "$key"``).\"\"\"


def make(settings: Mapping[str, Any]) -> ${Title}Cache:
    \"\"\"Build the backend from validated settings.\"\"\"
    return ${Title}Cache(**dict(settings))


DESCRIPTOR = CacheBackendDescriptor(key="$key", version="1", factory=make,
                                    settings_schema=SETTINGS_SCHEMA,
                                    description="$name's oracle result cache")
"""

_SERIALIZER = """\
\"\"\"Serializer ``$key``: rows as tab-separated values (a header line, then one per row).\"\"\"

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO

from snapkit.descriptors import SerializerDescriptor


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\\\", "\\\\\\\\").replace("\\t", "\\\\t").replace("\\n", "\\\\n")


class ${Title}Serializer:
    \"\"\"Writes rows to a binary stream as UTF-8 text.\"\"\"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)

    def write(self, rows: Iterable[Mapping[str, Any]], columns: Sequence[str],
              stream: BinaryIO) -> int:
        \"\"\"Write ``rows`` (values by column); return how many were written.\"\"\"
        stream.write(("\\t".join(columns) + "\\n").encode("utf-8"))
        count = 0
        for row in rows:
            line = "\\t".join(_cell(row.get(column)) for column in columns)
            stream.write((line + "\\n").encode("utf-8"))
            count += 1
        return count


DESCRIPTOR = SerializerDescriptor(key="$key", version="1", factory=${Title}Serializer,
                                  extension="tsv", mediatype="text/tab-separated-values",
                                  description="tab-separated values")
"""

_SEARCH_VIEW = """\
\"\"\"Search view ``$key``: oracle ``$key``'s named records, with their namesakes.\"\"\"

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from snapkit.descriptors import SearchViewDescriptor

Lookup = Callable[[str, str, list[Any]], Mapping[Any, list[dict[str, Any]]]]


class ${Title}View:
    \"\"\"``snapkit search $key QUERY`` searches this view as if it were a table.\"\"\"

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.settings = dict(settings)

    def accepts(self, record: Mapping[str, Any]) -> bool:
        \"\"\"Which rows of the table the view holds.\"\"\"
        return bool(record.get("name"))

    def expand(self, rows: Iterable[dict[str, Any]], lookup: Lookup) -> list[dict[str, Any]]:
        \"\"\"Add the other records with the same name (``lookup`` reads the same snapshot).\"\"\"
        found = list(rows)
        seen = {row["id"] for row in found}
        namesakes = lookup("$key", "name", sorted({row["name"] for row in found}))
        for name in sorted(namesakes):
            for record in namesakes[name]:
                if record["id"] not in seen:
                    seen.add(record["id"])
                    found.append(record)
        return found


DESCRIPTOR = SearchViewDescriptor(key="$key", version="1", table="$key",
                                  factory=${Title}View, description="named records of $name")
"""

_MODULES = {
    "oracle": _ORACLE,
    "projection": _PROJECTION,
    "dataset": _DATASET,
    "diff_section": _DIFF_SECTION,
    "store": _STORE,
    "cache_backend": _CACHE_BACKEND,
    "serializer": _SERIALIZER,
    "search_view": _SEARCH_VIEW,
}

_TEST_PLUGIN = """\
\"\"\"The plugin registers cleanly, through its entry point when installed.\"\"\"

from __future__ import annotations

import importlib.metadata

import pytest
from snapkit.testing import assert_plugin_installed
from snapkit.validation import validate_plugins

import $pkg.plugin as plugin


def test_the_plugin_registers_without_problems(snapkit_manager, register_plugin):
    register_plugin(plugin, name="$name")
    assert validate_plugins(snapkit_manager) == []


def test_the_entry_point_loads_the_plugin():
    if not any(ep.value == "$pkg.plugin"
               for ep in importlib.metadata.entry_points(group="snapkit")):
        pytest.skip("the distribution is not installed (pip install -e .)")
    assert_plugin_installed("$name")
"""

_TEST_ORACLE = """\
\"\"\"Oracle $key: its records, and a refresh that freezes them.\"\"\"

from __future__ import annotations

from types import SimpleNamespace

from snapkit.testing.engine import make_project

import $pkg.plugin as plugin
from $pkg.oracle import ${Title}Oracle


def test_the_oracle_loads_count_records():
    records = list(${Title}Oracle({"count": 2}).load(SimpleNamespace(timeout=10.0)))
    assert records == [{"id": 1, "name": "item 1"}, {"id": 2, "name": "item 2"}]


def test_a_refresh_freezes_the_records(tmp_path):
    project = make_project(tmp_path, plugin, config={"oracles": {"$key": {"count": 3}},
                                                     "refresh": {"oracles": ["$key"]}})
    project.refresh()
    manifest = project.store.latest()
    assert manifest is not None and manifest.status == "success"
    assert [(p.name, p.records) for p in manifest.parts] == [("$key", 3)]
"""

_TEST_PROJECTION = """\
\"\"\"Projection $key: a summary of the oracle's records.\"\"\"

from __future__ import annotations

from $pkg.projection import DESCRIPTOR


class Inputs:
    \"\"\"Stands in for ProjectionInputs: the oracle's table, as a refresh stored it.\"\"\"

    def table(self, key):
        assert key == "$key"
        return [{"id": 2, "name": "item 2"}, {"id": 1, "name": "item 1"}]


def test_the_projection_counts_and_names_the_records():
    derive = DESCRIPTOR.factory({})
    assert derive(Inputs()) == {"count": 2, "names": ["item 1", "item 2"]}
    assert DESCRIPTOR.requires == ("$key",)
"""

_TEST_DATASET = """\
\"\"\"Dataset $key: one row per name, numbered.\"\"\"

from __future__ import annotations

from $pkg.dataset import DESCRIPTOR


def test_the_dataset_numbers_the_names():
    rows = DESCRIPTOR.factory({})({"$key": {"count": 2, "names": ["a", "b"]}})
    assert list(rows) == [{"position": 1, "name": "a"}, {"position": 2, "name": "b"}]
    assert set(DESCRIPTOR.columns) == {"position", "name"}
"""

_TEST_DIFF_SECTION = """\
\"\"\"Diff section $key: the record count before and after, from two real snapshots.\"\"\"

from __future__ import annotations

from snapkit.diff import DiffContext
from snapkit.testing.engine import make_project

import $pkg.plugin as plugin
from $pkg.diff_section import DESCRIPTOR


def snapshot(tmp_path, count):
    project = make_project(tmp_path, plugin, config={"oracles": {"$key": {"count": count}},
                                                     "refresh": {"oracles": ["$key"]}})
    project.refresh()
    return project.store, project.store.latest()


def test_the_section_counts_a_changed_table(tmp_path):
    _, a = snapshot(tmp_path, 2)
    store, b = snapshot(tmp_path, 5)
    section = DESCRIPTOR.factory({})
    assert section.applies(a, b)
    result = section.compute(DiffContext(a=a, b=b, parts=store))
    assert (result.added, result.removed, result.changed) == (0, 0, 1)
    assert result.data == {"records": {"from": 2, "to": 5}}
"""

_TEST_STORE = """\
\"\"\"Store $key passes the whole store conformance kit.\"\"\"

from __future__ import annotations

import pytest
from snapkit.testing.store_kit import StoreConformance
from snapkit_file_store.testing import damage_chunk, damage_manifest, damage_part

from $pkg.store import ${Title}Store


class Test${Title}StoreConformance(StoreConformance):
    @pytest.fixture
    def make_store(self):
        return ${Title}Store

    @pytest.fixture
    def damage_part(self):
        return damage_part

    @pytest.fixture
    def damage_manifest(self):
        return damage_manifest

    @pytest.fixture
    def damage_chunk(self):
        return damage_chunk
"""

_TEST_CACHE_BACKEND = """\
\"\"\"Cache backend $key passes the whole cache conformance kit.\"\"\"

from __future__ import annotations

import pytest
from snapkit.testing.cache_kit import CacheConformance
from snapkit_cache.testing import FakeClock

from $pkg.cache_backend import ${Title}Cache


class Test${Title}CacheConformance(CacheConformance):
    @pytest.fixture
    def clock(self):
        return FakeClock()

    @pytest.fixture
    def make_cache(self, clock):
        return lambda ttl, capacity: ${Title}Cache(ttl=ttl, capacity=capacity, timer=clock)

    @pytest.fixture
    def expire(self, clock):
        return lambda cache, seconds: clock.advance(seconds)
"""

_TEST_SERIALIZER = """\
\"\"\"Serializer $key: a header, one line per row, tabs and newlines escaped.\"\"\"

from __future__ import annotations

import io

from $pkg.serializer import DESCRIPTOR


def test_rows_are_written_as_tab_separated_lines():
    stream = io.BytesIO()
    count = DESCRIPTOR.factory({}).write(
        [{"id": 1, "name": "a\\tb"}, {"id": 2, "name": None}], ["id", "name"], stream)
    assert count == 2
    assert stream.getvalue() == b"id\\tname\\n1\\ta\\\\tb\\n2\\t\\n"
"""

_TEST_SEARCH_VIEW = """\
\"\"\"Search view $key: named rows, with their namesakes added.\"\"\"

from __future__ import annotations

from $pkg.search_view import DESCRIPTOR

TABLE = [{"id": 1, "name": "ann"}, {"id": 2, "name": ""}, {"id": 3, "name": "ann"}]


def lookup(table, field, values):
    assert table == "$key"
    return {v: [r for r in TABLE if r[field] == v] for v in values}


def test_the_view_holds_named_rows_and_adds_namesakes():
    view = DESCRIPTOR.factory({})
    assert [view.accepts(r) for r in TABLE] == [True, False, True]
    assert view.expand([TABLE[0]], lookup) == [TABLE[0], TABLE[2]]
"""

_TESTS = {
    "oracle": _TEST_ORACLE,
    "projection": _TEST_PROJECTION,
    "dataset": _TEST_DATASET,
    "diff_section": _TEST_DIFF_SECTION,
    "store": _TEST_STORE,
    "cache_backend": _TEST_CACHE_BACKEND,
    "serializer": _TEST_SERIALIZER,
    "search_view": _TEST_SEARCH_VIEW,
}
