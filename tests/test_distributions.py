"""Every distribution of the repository can be published on its own.

The kernel is ``snapkit-core`` (``snapkit`` on the package index is an unrelated project), each
plugin depends on it and on its sibling plugins with a version range, and each ships a README,
a LICENSE, a ``py.typed`` marker and its entry point in the ``snapkit`` group.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import snapkit

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = sorted(
    p.parent
    for p in [*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("contrib/*/pyproject.toml")]
)
KERNEL = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
SIBLINGS = {
    tomllib.loads((p / "pyproject.toml").read_text(encoding="utf-8"))["project"]["name"]: p
    for p in PLUGINS
}


def project(folder: Path) -> dict[str, Any]:
    return tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))


def all_requirements(meta: dict[str, Any]) -> list[Requirement]:
    listed = list(meta["project"].get("dependencies", []))
    for extra in meta["project"].get("optional-dependencies", {}).values():
        listed.extend(extra)
    return [Requirement(text) for text in listed]


def test_the_kernel_distribution_is_snapkit_core_at_the_package_version() -> None:
    assert KERNEL["name"] == "snapkit-core"
    assert KERNEL["version"] == snapkit.__version__
    assert KERNEL["scripts"]["snapkit"] == "snapkit.cli.main:main"


def test_the_repository_has_every_plugin_distribution() -> None:
    assert {"snapkit-files", "snapkit-file-store", "snapkit-instructor-dashboard"} <= set(SIBLINGS)


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda p: p.name)
def test_a_plugin_depends_on_the_kernel_with_a_range_that_holds_it(folder: Path) -> None:
    kernel = [r for r in all_requirements(project(folder)) if r.name == "snapkit-core"]
    assert [str(r.specifier) for r in kernel] == ["<0.3,>=0.2"]
    assert Version(KERNEL["version"]) in kernel[0].specifier
    assert not [r for r in all_requirements(project(folder)) if r.name == "snapkit"]


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda p: p.name)
def test_dependencies_on_sibling_plugins_are_ranges_that_hold_them(folder: Path) -> None:
    for requirement in all_requirements(project(folder)):
        if requirement.name not in SIBLINGS:
            continue
        operators = {spec.operator for spec in requirement.specifier}
        assert operators == {">=", "<"}, f"{requirement} is not a range"
        sibling = project(SIBLINGS[requirement.name])["project"]["version"]
        assert Version(sibling) in requirement.specifier


@pytest.mark.parametrize("folder", [ROOT, *PLUGINS], ids=lambda p: p.name)
def test_a_distribution_ships_readme_license_and_py_typed(folder: Path) -> None:
    meta = project(folder)
    assert meta["project"]["readme"] == "README.md" and (folder / "README.md").is_file()
    assert meta["project"]["license"] == {"text": "MIT"}
    assert (folder / "LICENSE").is_file()
    assert "MIT License" in (folder / "LICENSE").read_text(encoding="utf-8")
    package_data = meta["tool"]["setuptools"]["package-data"]
    assert len(package_data) == 1
    ((package, files),) = package_data.items()
    assert "py.typed" in files
    source = folder if folder == ROOT else folder / "src"
    assert (source / package / "py.typed").is_file()


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda p: p.name)
def test_a_plugin_declares_its_entry_point_in_the_snapkit_group(folder: Path) -> None:
    meta = project(folder)
    entry_points = meta["project"]["entry-points"]["snapkit"]
    assert len(entry_points) == 1
    ((name, target),) = entry_points.items()
    module = folder / "src" / (target.replace(".", "/") + ".py")
    assert module.is_file(), f"entry point {name} = {target} names no module"


@pytest.mark.parametrize("folder", PLUGINS, ids=lambda p: p.name)
def test_a_plugin_has_its_own_tests(folder: Path) -> None:
    assert list((folder / "tests").glob("test_*.py"))
    assert project(folder)["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]


@pytest.mark.parametrize("folder", [ROOT, *PLUGINS], ids=lambda p: p.name)
def test_lint_and_type_settings_live_only_in_the_root_pyproject(folder: Path) -> None:
    tools = project(folder).get("tool", {})
    if folder == ROOT:
        assert "ruff" in tools and "mypy" in tools
    else:
        assert "ruff" not in tools and "mypy" not in tools
