"""The import boundary of start-up: importing a plugin's entry-point module stays cheap.

``snapkit plugins list`` (and every command, through plugin discovery) imports each installed
plugin's entry-point module, so those modules (and the packages they sit in) must not import
the engine or heavy libraries at import time: factories and functions import them when used.
Each check runs in a fresh interpreter; no timing is asserted, only which modules got loaded.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

FIRST_PARTY_PREFIX = "snapkit-"
SKIPPED = {"snapkit_oneroster"}  # not yet made light (its entry module is being reworked)

HEAVY = (
    "jsonschema",
    "cattrs",
    "httpx",
    "zstandard",
    "snapkit.diff",
    "snapkit.projection",
    "snapkit.export",
    "snapkit.refresh",
    "duckdb",
)
"""Modules (and their submodules) no entry-point module may import at import time."""


def _first_party_entry_modules() -> list[str]:
    modules = set()
    for ep in entry_points(group="snapkit"):
        dist = ep.dist.name if ep.dist is not None else ""
        module = ep.value.split(":", 1)[0].strip()
        if not dist.lower().startswith(FIRST_PARTY_PREFIX):
            continue
        if module.split(".", 1)[0] in SKIPPED:
            continue
        modules.add(module)
    return sorted(modules)


ENTRY_MODULES = _first_party_entry_modules()


def _imported_by(module: str) -> list[str]:
    code = f"import {module}; import sys; print(sorted(m for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    names: list[str] = ast.literal_eval(proc.stdout.strip())
    return names


def test_first_party_entry_points_are_installed() -> None:
    assert ENTRY_MODULES, "no first-party snapkit entry point is installed"


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_entry_module_imports_nothing_heavy(module: str) -> None:
    loaded = _imported_by(module)
    heavy = sorted(name for name in loaded
                   if any(name == h or name.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"importing {module} loads {heavy}; import them inside factories"
