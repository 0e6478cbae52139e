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
SKIPPED: set[str] = set()

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
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    names: list[str] = ast.literal_eval(proc.stdout.strip())
    return names


def test_first_party_entry_points_are_installed() -> None:
    assert ENTRY_MODULES, "no first-party snapkit entry point is installed"


@pytest.mark.parametrize("module", ENTRY_MODULES)
def test_entry_module_imports_nothing_heavy(module: str) -> None:
    loaded = _imported_by(module)
    heavy = sorted(
        name for name in loaded if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )
    assert heavy == [], f"importing {module} loads {heavy}; import them inside factories"


# -- entry-point discovery without importlib.metadata ------------------------------------------


def _reference(group: str) -> list[tuple[str, str, str | None, str | None]]:
    import importlib.metadata as metadata

    return [
        (ep.name, ep.value, ep.dist.name if ep.dist else None, ep.dist.version if ep.dist else None)
        for ep in metadata.entry_points(group=group)
    ]


@pytest.mark.parametrize("sites", [(), ("good",), ("broken", "problems", "tripwire")])
@pytest.mark.parametrize("group", ["snapkit", "console_scripts", "pytest11"])
def test_discovery_finds_what_importlib_metadata_finds(fake_sites, sites, group) -> None:
    from snapkit.manager import _scan_entry_points  # the fast path itself, not its fallback

    fake_sites(*sites)
    assert [tuple(ep) for ep in _scan_entry_points(group)] == _reference(group)


def test_discovery_reads_a_zip_on_sys_path_through_importlib_metadata(tmp_path, monkeypatch):
    import zipfile

    from snapkit.manager import discover_entry_points

    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "snapkit_zipped-2.0.dist-info/METADATA",
            "Metadata-Version: 2.1\nName: snapkit-zipped\nVersion: 2.0\n",
        )
        zf.writestr(
            "snapkit_zipped-2.0.dist-info/entry_points.txt", "[snapkit]\nzipped = zipped_plugin\n"
        )
    monkeypatch.syspath_prepend(str(archive))
    found = [tuple(ep) for ep in discover_entry_points("snapkit")]
    assert ("zipped", "zipped_plugin", "snapkit-zipped", "2.0") in found
    assert found == _reference("snapkit")


def test_discovery_does_not_import_importlib_metadata() -> None:
    code = (
        "import sys; from snapkit.manager import discover_entry_points; "
        "discover_entry_points(); print('importlib.metadata' in sys.modules)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert proc.stdout.strip() == "False"


# -- the HTTP server stays out of start-up ------------------------------------------------------

SERVER_MODULES = ("starlette", "uvicorn", "jinja2", "anyio", "snapkit.serve")


def _loaded_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nprint(repr(sorted(sys.modules)))"
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    names: list[str] = ast.literal_eval(proc.stdout.strip().splitlines()[-1])
    return names


@pytest.mark.parametrize(
    "code",
    [
        "import snapkit",
        "from snapkit.cli.main import main\ntry:\n    main(['--help'])\n"
        "except SystemExit:\n    pass",
        "from snapkit.cli.main import main\ntry:\n    main(['serve', '--help'])\n"
        "except SystemExit:\n    pass",
    ],
    ids=["import snapkit", "snapkit --help", "snapkit serve --help"],
)
def test_the_server_is_imported_only_when_it_serves(code: str) -> None:
    loaded = _loaded_after(code)
    server = sorted(
        name
        for name in loaded
        if any(name == m or name.startswith(m + ".") for m in SERVER_MODULES)
    )
    assert server == [], f"{code!r} loads {server}; import them in the serve command's body"
