"""The Python API is the one path: a host builds a project from a mapping and its own
plugins (no config file, no discovery), ``SNAPKIT_PLUGINS`` names the plugins to load, the
config is found in parent folders, plugin paths resolve against the config's folder, and the
command line's ``-v`` / ``--log-level`` send logs to stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from snapkit.cli.main import cli
from snapkit.config import find_config, resolve_setting_paths
from snapkit.descriptors import OracleDescriptor, ProjectionDescriptor, StoreDescriptor
from snapkit.errors import ConfigError, PluginLoadError
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.project import Project

PATH_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {"path": {"type": "string", "format": "path"}, "label": {"type": "string"}},
}


class Reader:
    """An oracle reading the JSON file its ``path`` setting names."""

    seen: list[str] = []

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def load(self, call: Any) -> Any:
        Reader.seen.append(call.settings["path"])
        return json.loads(Path(call.settings["path"]).read_text(encoding="utf-8"))


class Host:
    @hookimpl
    def snapkit_register_oracles(self, register: Any) -> None:
        register(OracleDescriptor(key="reader", factory=Reader, settings_schema=PATH_SCHEMA))

    @hookimpl
    def snapkit_register_projections(self, register: Any) -> None:
        register(
            ProjectionDescriptor(
                key="count",
                requires=["reader"],
                factory=lambda settings: lambda i: {"n": len(i.payload("reader"))},
            )
        )


def host_project(root: Path, **options: Any) -> Project:
    import snapkit_file_store.plugin as file_store

    (root / "in").mkdir(parents=True, exist_ok=True)
    (root / "in" / "a.json").write_text("[1, 2, 3]", encoding="utf-8")
    return Project.from_mapping(
        {"store": {"kind": "file", "path": "data"}, "oracles": {"reader": {"path": "in/a.json"}}},
        plugins=[file_store, Host()],
        root=root,
        **options,
    )


# -- from_mapping --------------------------------------------------------------------------


def test_a_host_project_loads_only_the_plugins_it_passes(fake_sites: Any, tmp_path: Path) -> None:
    fake_sites("good")
    project = host_project(tmp_path)
    assert sorted(project.manager.plugin_names()) == ["Host", "snapkit_file_store.plugin"]
    assert "fake-good" not in {r.name for r in project.manager.records}


def test_with_autoload_the_installed_plugins_load_too(fake_sites: Any, tmp_path: Path) -> None:
    fake_sites("good")
    project = host_project(tmp_path, autoload=True)
    names = set(project.manager.plugin_names())
    assert {"fake-good", "Host"} <= names


def test_relative_paths_resolve_against_the_root_not_the_current_folder(
    tmp_path: Path, monkeypatch: Any
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    Reader.seen = []
    project = host_project(tmp_path / "app")
    outcome = project.refresh()
    assert outcome.status == "success"
    assert Reader.seen == [str(tmp_path / "app" / "in" / "a.json")]
    assert (tmp_path / "app" / "data").is_dir() and not (elsewhere / "data").exists()
    assert project.derive().value("count") == {"n": 3}


def test_an_invalid_mapping_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="atempts"):
        Project.from_mapping({"refresh": {"atempts": 2}}, root=tmp_path)


def test_a_plugin_object_with_an_unknown_hook_is_refused(tmp_path: Path) -> None:
    class Typo:
        @hookimpl
        def snapkit_register_oracle(self, register: Any) -> None:
            pass

    with pytest.raises(PluginLoadError, match="snapkit_register_oracles"):
        Project.from_mapping({}, plugins=[Typo()], root=tmp_path)


def test_the_cli_project_command_prints_what_derive_returns(
    tmp_path: Path, monkeypatch: Any
) -> None:
    project = host_project(tmp_path)
    project.refresh()
    monkeypatch.setattr(Project, "load", classmethod(lambda cls, *a, **k: project))
    result = CliRunner().invoke(cli, ["project", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    derived = project.derive()
    assert printed["snapshot_id"] == derived.snapshot_id
    assert {k: v["status"] for k, v in printed["projections"].items()} == derived.statuses()
    assert printed["projections"]["count"]["value"] == derived.value("count")


def test_export_to_a_stream_checks_parity_before_handing_the_bytes_over(tmp_path: Path) -> None:
    import io

    import snapkit_serializers.plugin as serializers
    from snapkit.descriptors import DatasetDescriptor

    class Dataset:
        @hookimpl
        def snapkit_register_datasets(self, register: Any) -> None:
            register(
                DatasetDescriptor(
                    key="count",
                    file_name="count.csv",
                    columns=("n",),
                    requires=("count",),
                    profiles=("p",),
                    factory=lambda s: lambda v: [v["count"]],
                )
            )

    project = host_project(tmp_path)
    project.manager.register(serializers, name="serializers")
    project.manager.register(Dataset(), name="dataset")
    project.refresh()
    out = io.BytesIO()
    outcome = project.export("p", out, check_parity=True)
    assert outcome.parity is not None and outcome.parity.ok
    assert outcome.path is None and len(out.getvalue()) == outcome.size
    assert project.export("p", tmp_path / "x.zip").parity is None


# -- store settings: no path forced on a store that does not take one -----------------------


def store_plugin(schema: dict[str, Any] | None, received: list[dict[str, Any]]) -> object:
    class Stores:
        @hookimpl
        def snapkit_register_stores(self, register: Any) -> None:
            def factory(settings: dict[str, Any]) -> object:
                received.append(dict(settings))
                return object()

            register(StoreDescriptor(key="remote", factory=factory, settings_schema=schema))

    return Stores()


def test_a_store_whose_schema_has_no_path_gets_no_path_key(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"dsn": {"type": "string"}},
    }
    project = Project.from_mapping(
        {"store": {"kind": "remote", "dsn": "db"}},
        plugins=[store_plugin(schema, received)],
        root=tmp_path,
    )
    project.store  # noqa: B018 - builds the store
    assert received == [{"dsn": "db"}]


def test_a_store_that_takes_a_path_gets_it_resolved_with_its_default(tmp_path: Path) -> None:
    received: list[dict[str, Any]] = []
    schema = {"type": "object", "properties": {"path": {"type": "string"}}}
    project = Project.from_mapping(
        {"store": {"kind": "remote"}}, plugins=[store_plugin(schema, received)], root=tmp_path
    )
    project.store  # noqa: B018 - builds the store
    assert received == [{"path": str(tmp_path / "snapkit-data")}]


# -- format: path --------------------------------------------------------------------------


def test_only_settings_marked_format_path_are_resolved(tmp_path: Path) -> None:
    schema = {
        "properties": {
            "path": {"type": "string", "format": "path"},
            "label": {"type": "string"},
            "nested": {"type": "object", "properties": {"file": {"format": "path"}}},
        }
    }
    settings = {"path": "a/b.csv", "label": "a/b", "nested": {"file": "~/x"}, "other": "c"}
    resolved = resolve_setting_paths(settings, schema, tmp_path)
    assert resolved == {
        "path": str(tmp_path / "a/b.csv"),
        "label": "a/b",
        "nested": {"file": str(Path("~/x").expanduser())},
        "other": "c",
    }
    assert resolve_setting_paths({"path": "/abs"}, schema, tmp_path) == {"path": "/abs"}
    assert resolve_setting_paths({"path": "x"}, None, tmp_path) == {"path": "x"}


PLUGIN_MODULE = """
import json
from pathlib import Path
from snapkit import hookimpl
from snapkit.descriptors import OracleDescriptor

class Reader:
    def __init__(self, settings):
        self.path = Path(settings["path"])
    def load(self, call):
        return json.loads(self.path.read_text(encoding="utf-8"))

@hookimpl
def snapkit_register_oracles(register):
    register(OracleDescriptor(key="reader", factory=Reader, settings_schema={
        "type": "object", "properties": {"path": {"type": "string", "format": "path"}}}))
"""


@pytest.fixture
def plugin_module(tmp_path: Path, monkeypatch: Any) -> Iterator[str]:
    name = "snapkit_test_host_reader"
    (tmp_path / f"{name}.py").write_text(PLUGIN_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def test_a_config_elsewhere_resolves_its_relative_paths_against_its_folder(
    tmp_path: Path, monkeypatch: Any, plugin_module: str
) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "a.json").write_text('{"ok": true}', encoding="utf-8")
    (elsewhere / "snapkit.toml").write_text(
        '[oracles.reader]\npath = "data/a.json"\n', encoding="utf-8"
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("SNAPKIT_PLUGINS", f"{plugin_module},file-store")
    result = CliRunner().invoke(cli, ["-c", str(elsewhere / "snapkit.toml"), "refresh"])
    assert result.exit_code == 0, result.output
    assert (elsewhere / "snapkit-data").is_dir() and not (work / "snapkit-data").exists()


# -- SNAPKIT_PLUGINS -----------------------------------------------------------------------


def loaded(manager: PluginManager) -> set[str]:
    return {record.name for record in manager.records if record.status == "ok"}


def test_snapkit_plugins_names_exactly_the_plugins_to_load(
    fake_sites: Any, monkeypatch: Any
) -> None:
    fake_sites("good")
    monkeypatch.setenv("SNAPKIT_PLUGINS", "fake-good")
    manager = PluginManager(PluginSelection(enabled=("fake-audit",)))
    manager.load_entry_points()
    assert loaded(manager) == {"fake-good"}


def test_snapkit_plugins_loads_even_with_autoload_off_and_keeps_the_block_list(
    fake_sites: Any, monkeypatch: Any
) -> None:
    fake_sites("good")
    monkeypatch.setenv("SNAPKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("SNAPKIT_PLUGINS", "fake-good, snapkit-fake-audit")
    manager = PluginManager(PluginSelection(autoload=False, blocked=("fake-audit",)))
    manager.load_entry_points()
    assert loaded(manager) == {"fake-good"}


def test_snapkit_plugins_imports_a_module_no_entry_point_provides(
    monkeypatch: Any, plugin_module: str
) -> None:
    monkeypatch.setenv("SNAPKIT_PLUGINS", f"{plugin_module},not_a_plugin_anywhere")
    manager = PluginManager(PluginSelection())
    manager.load_entry_points()
    assert loaded(manager) == {plugin_module}
    assert "reader" in manager.oracles
    [problem] = manager.problems
    assert problem.code == "not-installed" and "SNAPKIT_PLUGINS" in problem.message


def test_snapkit_plugins_set_but_empty_loads_nothing(fake_sites: Any, monkeypatch: Any) -> None:
    fake_sites("good")
    monkeypatch.setenv("SNAPKIT_PLUGINS", "")
    manager = PluginManager(PluginSelection())
    manager.load_entry_points()
    assert loaded(manager) == set()


def test_a_host_project_without_autoload_ignores_snapkit_plugins(
    fake_sites: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    fake_sites("good")
    monkeypatch.setenv("SNAPKIT_PLUGINS", "fake-good")
    project = host_project(tmp_path)
    assert "fake-good" not in set(project.manager.plugin_names())


# -- config discovery ----------------------------------------------------------------------


def test_the_config_is_found_in_a_parent_folder(tmp_path: Path) -> None:
    (tmp_path / "snapkit.toml").write_text("", encoding="utf-8")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config(deep) == tmp_path / "snapkit.toml"


def test_the_nearest_folder_wins_and_pyproject_counts_only_with_tool_snapkit(
    tmp_path: Path,
) -> None:
    (tmp_path / "snapkit.toml").write_text("", encoding="utf-8")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pyproject.toml").write_text("[tool.snapkit]\n", encoding="utf-8")
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / "a" / "b" / "pyproject.toml").write_text("[project]\nname='x'\n", encoding="utf-8")
    assert find_config(tmp_path / "a" / "b") == tmp_path / "a" / "pyproject.toml"


def test_the_search_stops_at_the_top_of_a_repository(tmp_path: Path) -> None:
    (tmp_path / "snapkit.toml").write_text("", encoding="utf-8")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "src").mkdir()
    assert find_config(repo / "src") is None
    (repo / "snapkit.toml").write_text("", encoding="utf-8")
    assert find_config(repo / "src") == repo / "snapkit.toml"


def test_relative_paths_of_a_config_found_above_resolve_against_its_folder(
    tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "snapkit.toml").write_text('[store]\npath = "snaps"\n', encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    project = Project.load()
    assert project.config.source == tmp_path / "snapkit.toml"
    assert project.store.location == str(tmp_path / "snaps")  # type: ignore[attr-defined]


# -- logging -------------------------------------------------------------------------------


@pytest.fixture
def refreshed_folder(tmp_path: Path, monkeypatch: Any, plugin_module: str) -> Path:
    (tmp_path / "a.json").write_text('{"secret": "VALUE-NEVER-LOGGED"}', encoding="utf-8")
    (tmp_path / "snapkit.toml").write_text('[oracles.reader]\npath = "a.json"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SNAPKIT_PLUGINS", f"{plugin_module},file-store")
    return tmp_path


@pytest.fixture
def restore_logging() -> Iterator[None]:
    import logging

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("refreshed_folder", "restore_logging")
@pytest.mark.parametrize("options", [["-v"], ["--log-level", "info"], ["-vv"]])
def test_verbose_options_log_to_stderr_without_values(options: list[str]) -> None:
    result = CliRunner().invoke(cli, [*options, "refresh"])
    assert result.exit_code == 0, result.output
    assert "INFO snapkit.refresh: refresh" in result.stderr
    assert "VALUE-NEVER-LOGGED" not in result.stderr + result.stdout


@pytest.mark.usefixtures("refreshed_folder", "restore_logging")
def test_without_verbose_options_nothing_is_logged() -> None:
    result = CliRunner().invoke(cli, ["refresh"])
    assert result.exit_code == 0, result.output
    assert "INFO" not in result.stderr


@pytest.mark.usefixtures("restore_logging")
def test_an_unknown_log_level_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--log-level", "loud", "plugins", "list"])
    assert result.exit_code == 2
    assert "loud" in result.output


def test_a_named_module_whose_own_import_fails_is_a_load_error_not_missing(
    tmp_path: Path, monkeypatch: Any
) -> None:
    (tmp_path / "snapkit_test_needs_missing.py").write_text(
        "import snapkit_test_not_installed_dependency\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SNAPKIT_PLUGINS", "snapkit_test_needs_missing")
    manager = PluginManager(PluginSelection())
    manager.load_entry_points()
    [problem] = manager.problems
    assert problem.code == "load-error"
    assert "snapkit_test_not_installed_dependency" in problem.message
