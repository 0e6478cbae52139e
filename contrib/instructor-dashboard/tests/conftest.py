"""Fixtures of the instructor-dashboard tests.

``small_class`` is a fixed class of twelve students and five line items (``data/small_class``)
whose every number the tests state by hand; it is fed through inline oracles under the
plugin's oracle keys, with the plugin's projections and datasets and the first-party
serializers registered inline.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import pytest

import snapkit_serializers.plugin as serializers_plugin
from snapkit.project import Project
from snapkit.projection import ProjectionSet, derive_for_project
from snapkit.testing.engine import OraclePlugin, make_project
from snapkit_instructor_dashboard import keys
from snapkit_instructor_dashboard.oracles import RESULT_SCHEMA, group_results
from snapkit_instructor_dashboard.plugin import ViewsPlugin

DATA = Path(__file__).parent / "data" / "small_class"


def load(name: str) -> Any:
    """One fixture file of the small class."""
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


def fixture_oracles(skip: tuple[str, ...] = (), fail: Collection[str] = ()) -> OraclePlugin:
    """Inline oracles serving the small class; ``skip`` leaves oracles out, ``fail`` makes
    them raise (it is read at each call, so a test may add to a set it passed)."""
    plugin = OraclePlugin()

    def serve(name: str, key: str) -> Callable[[Any], Any]:
        def load_it(call: Any) -> Any:
            if key in fail:
                raise RuntimeError("source down")
            return load(name)

        return load_it

    tables = {keys.ROSTER: "roster", keys.LINE_ITEMS: "line_items"}
    if keys.CLASS not in skip:
        plugin.add(keys.CLASS, serve("class", keys.CLASS))
    for key, name in tables.items():
        if key not in skip:
            plugin.add(key, serve(name, key), records=True, key_column="sourcedId")
    if keys.RESULTS not in skip:  # result records grouped by line item, as the oracle does
        serve_results = serve("results", keys.RESULTS)
        plugin.add(
            keys.RESULTS,
            lambda call: group_results(serve_results(call)),
            records=True,
            key_column="lineItem",
            payload_schema=RESULT_SCHEMA,
        )
    return plugin


def small_project(
    folder: Path,
    *,
    filters: Mapping[str, Any] | None = None,
    skip: tuple[str, ...] = (),
    fail: Collection[str] = (),
    oracles: OraclePlugin | None = None,
) -> Project:
    """A project over the small class: refresh it, then derive and export."""
    scope = {"namespace": "district-7", "context": "class-alg1", "filters": dict(filters or {})}
    return make_project(
        folder,
        oracles or fixture_oracles(skip, fail),
        ViewsPlugin(),
        serializers_plugin,
        config={"scope": scope},
    )


@pytest.fixture
def make_small_project(tmp_path: Path) -> Callable[..., Project]:
    """A factory of projects over the small class (see :func:`small_project`); each call
    gets its own folder."""
    counter = [0]

    def make(**options: Any) -> Project:
        counter[0] += 1
        folder = tmp_path / f"project-{counter[0]}"
        folder.mkdir()
        return small_project(folder, **options)

    return make


@pytest.fixture
def guarded_small_class(tmp_path: Path) -> tuple[Project, ProjectionSet, OraclePlugin, set[str]]:
    """The small class refreshed and derived, with its oracle plugin (``calls`` counts loads)
    and the set of oracle keys made to raise (empty until the test adds to it)."""
    failing: set[str] = set()
    oracles = fixture_oracles(fail=failing)
    project = small_project(tmp_path, oracles=oracles)
    assert project.refresh().status == "success"
    return project, derive_for_project(project, project.current()), oracles, failing


@pytest.fixture
def small_class(tmp_path: Path) -> tuple[Project, ProjectionSet]:
    """The small class refreshed, with every projection derived."""
    project = small_project(tmp_path)
    outcome = project.refresh()
    assert outcome.status == "success", outcome.errors
    return project, derive_for_project(project, project.current())


@pytest.fixture
def small_class_oracles() -> Callable[..., OraclePlugin]:
    """:func:`fixture_oracles`, for tests that replace one oracle of the small class."""
    return fixture_oracles


@pytest.fixture
def write_dashboard_config() -> Callable[..., Path]:
    """Write a ``snapkit.toml`` in a folder for the dashboard's four oracles against a local
    OneRoster server (the client secret read from the environment variable ``secret_env``);
    returns its path."""

    def write(
        folder: Path, server: Any, *, namespace: str, secret_env: str, context: str | None = None
    ) -> Path:
        config = folder / "snapkit.toml"
        scope_context = f'context = "{context}"\n' if context else ""
        config.write_text(
            f"""
[plugins]
enabled = ["file-store", "serializers", "instructor-dashboard"]

[store]
path = "store"

[scope]
namespace = "{namespace}"
{scope_context}
[refresh]
oracles = ["dashboard_class", "dashboard_roster", "dashboard_line_items", "dashboard_results"]

[oracles.dashboard_class]
base_url = "{server.base_url}"
token_url = "{server.token_url}"
client_id = "{server.client_id}"
client_secret = {{ env = "{secret_env}" }}
""",
            encoding="utf-8",
        )
        return config

    return write
