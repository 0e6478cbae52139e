"""The object store passes the whole store conformance kit, against a moto S3 server."""

from __future__ import annotations

import pytest

from snapkit.testing.store_kit import StoreConformance
from snapkit_object_store.testing import damage_manifest, damage_part


class TestObjectStoreConformance(StoreConformance):
    @pytest.fixture
    def make_store(self, open_at):
        return open_at

    @pytest.fixture
    def damage_part(self):
        return damage_part

    @pytest.fixture
    def damage_manifest(self):
        return damage_manifest
