"""GC pacing changes a setting of the whole interpreter, so it is scoped: a host's
thresholds are untouched by the Python API unless it opts in, and snapkit's own command
line turns it on for its runs."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from snapkit import gcpace
from snapkit.cli.main import cli
from snapkit.descriptors import OracleDescriptor, ProjectionDescriptor
from snapkit.markers import hookimpl
from snapkit.project import Project

HOST = (703, 13, 17)


@pytest.fixture(autouse=True)
def _host_thresholds() -> Iterator[None]:
    saved = gc.get_threshold()
    gc.set_threshold(*HOST)
    try:
        yield
    finally:
        gc.set_threshold(*saved)


class Probes:
    """An oracle and a projection that note the collector's thresholds while they run."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, tuple[int, int, int]]] = []

    def load(self, call: Any) -> Iterator[dict[str, Any]]:
        self.seen.append(("oracle", gc.get_threshold()))
        yield {"id": 1}

    def project(self, inputs: Any) -> dict[str, Any]:
        self.seen.append(("projection", gc.get_threshold()))
        return {}

    @hookimpl
    def snapkit_register_oracles(self, register: Any) -> None:
        register(OracleDescriptor(key="rows", factory=lambda settings: self, records=True))

    @hookimpl
    def snapkit_register_projections(self, register: Any) -> None:
        register(ProjectionDescriptor(key="probe", factory=lambda settings: self.project))


def build(tmp_path: Path, probes: Probes, **options: Any) -> Project:
    return Project.from_mapping(
        {"store": {"kind": "file", "path": "store"}, "oracles": {"rows": {}}},
        plugins=[probes],
        autoload=True,
        root=tmp_path,
        **options,
    )


def test_refresh_and_derive_leave_a_hosts_thresholds_alone_by_default(tmp_path: Path) -> None:
    probes = Probes()
    project = build(tmp_path, probes)
    assert project.refresh().status == "success"
    assert project.derive()["probe"].status == "ready"
    assert probes.seen == [("oracle", HOST), ("projection", HOST)]
    assert gc.get_threshold() == HOST


def test_a_host_opts_in_per_project_and_gets_its_thresholds_back(tmp_path: Path) -> None:
    probes = Probes()
    project = build(tmp_path, probes, gc_pacing=True)
    project.refresh()
    project.derive()
    assert probes.seen == [
        ("oracle", (703, 13, gcpace.FULL_COLLECTION_EVERY)),
        ("projection", (gcpace.YOUNG_COLLECTION_EVERY, 13, 17)),
    ]
    assert gc.get_threshold() == HOST


def test_a_host_opts_in_for_a_block_with_the_context_manager(tmp_path: Path) -> None:
    probes = Probes()
    project = build(tmp_path, probes)
    with gcpace.enabled():
        assert gcpace.is_enabled()
        project.refresh()
    assert not gcpace.is_enabled()
    project.derive()
    assert probes.seen == [
        ("oracle", (703, 13, gcpace.FULL_COLLECTION_EVERY)),
        ("projection", HOST),
    ]


def test_pacing_turned_on_in_one_thread_does_not_reach_another() -> None:
    seen: list[tuple[int, int, int]] = []

    def elsewhere() -> None:
        with gcpace.spaced_collections(young=50_000):
            seen.append(gc.get_threshold())

    with gcpace.enabled():
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join(30)
    assert seen == [HOST]


PROBE_MODULE = """
import gc
from snapkit import hookimpl
from snapkit.descriptors import OracleDescriptor

seen = []

class Rows:
    def load(self, call):
        seen.append(gc.get_threshold())
        yield {"id": 1}

@hookimpl
def snapkit_register_oracles(register):
    register(OracleDescriptor(key="rows", factory=lambda settings: Rows(), records=True))
"""


def test_the_command_line_paces_its_own_runs(tmp_path: Path, monkeypatch: Any) -> None:
    (tmp_path / "gcprobe_cli_plugin.py").write_text(PROBE_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SNAPKIT_PLUGINS", "gcprobe_cli_plugin,file-store")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "snapkit.toml").write_text(
        '[store]\npath = "store"\n[oracles.rows]\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["refresh"])
    assert result.exit_code == 0, result.output
    import gcprobe_cli_plugin  # type: ignore[import-not-found]

    assert gcprobe_cli_plugin.seen == [(703, 13, gcpace.FULL_COLLECTION_EVERY)]
    assert gc.get_threshold() == HOST
