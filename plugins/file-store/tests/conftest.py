"""Fixtures for the file store's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from filestore_support import open_store

from snapkit_file_store import FileStore


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    """A fresh file store in a temp directory."""
    return open_store(tmp_path / "store")
