"""The entry point: what it registers, and a refresh without settings."""

from __future__ import annotations

from pathlib import Path

import pytest

import snapkit_toastmasters.plugin as plugin
from snapkit.errors import ConfigError
from snapkit.manager import PluginManager, PluginSelection
from snapkit.testing.engine import make_project
from snapkit_toastmasters.settings import METADATA, SECTION, TABLE_ORACLES


def test_the_entry_point_registers_every_kind() -> None:
    manager = PluginManager(PluginSelection(enabled=("toastmasters",)))
    manager.load_entry_points()
    assert {METADATA, SECTION, *TABLE_ORACLES} <= set(manager.oracles.keys())
    assert {"district_ranking", "club_health"} <= set(manager.projections.keys())
    datasets = {d.key: d for d in manager.datasets}
    assert {k for k, d in datasets.items() if "toastmasters" in d.profiles} == {
        "district_ranking",
        "club_health",
        "clubs_at_risk",
    }
    assert "toastmasters" in manager.registry("command")
    assert "toastmasters" in manager.registry("demo")
    assert manager.oracles.get(SECTION).settings_schema is not None


def test_a_refresh_without_the_section_fails_saying_what_to_add(tmp_path: Path) -> None:
    project = make_project(tmp_path, plugin, config={"refresh": {"oracles": [SECTION]}})
    outcome = project.refresh()
    assert outcome.status == "failed"
    (error,) = [e for e in outcome.errors if e.oracle == METADATA]
    assert "add an [oracles.toastmasters] section" in error.message


def test_a_bad_section_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"oracles\.toastmasters\.program_year"):
        make_project(
            tmp_path,
            plugin,
            config={
                "oracles": {
                    SECTION: {"base_url": "http://x", "districts": ["61"], "program_year": "2026"}
                }
            },
        ).validate_settings()
