"""docs/toastmasters.md follows the code: its Python examples run, every setting, table,
report, fault and CLI option it names exists, and every one that exists is documented."""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner

from snapkit_toastmasters.cli import toastmasters
from snapkit_toastmasters.schema import KEY_COLUMNS, TABLE_SCHEMAS
from snapkit_toastmasters.server import Faults
from snapkit_toastmasters.settings import REPORTS, SETTINGS_SCHEMA, TABLE_ORACLES

PAGE = Path(__file__).resolve().parents[3] / "docs" / "toastmasters.md"
TEXT = PAGE.read_text(encoding="utf-8")
EXAMPLES = re.findall(r"```python\n(.*?)```", TEXT, re.S)


def test_the_page_is_in_the_site_navigation() -> None:
    assert "toastmasters.md" in (PAGE.parents[1] / "mkdocs.yml").read_text(encoding="utf-8")


@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_every_python_example_runs(
    index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SNAPKIT_CONFIG", raising=False)
    exec(compile(EXAMPLES[index], f"{PAGE.name} example {index + 1}", "exec"), {})


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2


def test_every_setting_is_documented() -> None:
    for name in SETTINGS_SCHEMA["properties"]:
        assert f"| `{name}` |" in TEXT, name


def test_every_table_oracle_report_and_fault_is_documented() -> None:
    for oracle, table in TABLE_ORACLES.items():
        assert f"| `{oracle}` | `{table}` | `{KEY_COLUMNS[table]}`" in TEXT
    for table, schema in TABLE_SCHEMAS.items():
        if table == "district_statistics":
            missing = [
                f for f in schema["properties"] if f"`{f}`" not in TEXT and f != "district_id"
            ]
            assert not missing, missing
    for name in REPORTS.values():
        assert f"`{name}`" in TEXT
    for fault in attrs.fields(Faults):
        assert f"`{fault.name}`" in TEXT


def test_the_serve_options_the_page_uses_exist() -> None:
    used = re.findall(r"snapkit toastmasters serve (.*)", TEXT)
    assert used
    help_text = CliRunner().invoke(toastmasters, ["serve", "--help"]).output
    for option in re.findall(r"(--[a-z-]+)", " ".join(used)):
        assert option in help_text, option
