"""The file store passes the whole store conformance kit, keeping parts whole and as chunks."""

from __future__ import annotations

import pytest

from snapkit.testing.store_kit import StoreConformance
from snapkit_file_store.testing import (
    damage_chunk,
    damage_manifest,
    damage_part,
    open_store,
    open_whole_store,
)


class TestFileStoreConformance(StoreConformance):
    @pytest.fixture
    def make_store(self):
        return open_store

    @pytest.fixture
    def damage_part(self):
        return damage_part

    @pytest.fixture
    def damage_manifest(self):
        return damage_manifest

    @pytest.fixture
    def damage_chunk(self):
        return damage_chunk


class TestWholePartsFileStoreConformance(TestFileStoreConformance):
    """The same kit on a store with ``chunk_size = 0``, keeping every part whole (its chunk
    checks skip: the default store runs them)."""

    @pytest.fixture
    def make_store(self):
        return open_whole_store
