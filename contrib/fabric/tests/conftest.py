from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"


def load_ordered(name: str) -> Any:
    """Load a JSON file from tests/data, keeping the key order as written."""
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@pytest.fixture
def data_dir() -> Path:
    return DATA


@pytest.fixture
def report_from() -> dict[str, Any]:
    """The seed's example report."""
    return load_ordered("report_from.json")


@pytest.fixture
def report_to() -> dict[str, Any]:
    """The seed's example report after the changes the seed describes."""
    return load_ordered("report_to.json")


@pytest.fixture
def expected_changes() -> dict[str, Any]:
    """The seed's example diff ``changes``, in the seed's order."""
    return load_ordered("expected_changes.json")
