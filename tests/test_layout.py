"""Module dependencies run one way: helpers never import the module that imports them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FILE_STORE = ROOT / "plugins" / "file-store" / "src" / "snapkit_file_store"


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top, in functions or under TYPE_CHECKING."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("helper", ["transaction", "prune", "verify", "internals"])
def test_the_file_stores_helpers_do_not_import_the_store_module(helper):
    assert "snapkit_file_store.store" not in imported_modules(FILE_STORE / f"{helper}.py")


def test_the_search_index_does_not_import_the_search_it_serves():
    imported = imported_modules(ROOT / "snapkit" / "search_index.py")
    assert "snapkit.search" not in imported
    assert "snapkit.search_core" in imported
    assert not imported_modules(ROOT / "snapkit" / "search_core.py") & {
        "snapkit.search",
        "snapkit.search_index",
    }
