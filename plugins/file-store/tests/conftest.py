"""Fixtures for the file store's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapkit_file_store import FileStore
from snapkit_file_store.testing import open_store


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A fresh file store in a temp directory."""
    return open_store(tmp_path / "store")
