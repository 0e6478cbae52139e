"""The object store passes the whole store conformance kit, against a moto S3 server."""

from __future__ import annotations

import uuid

import pytest

from snapkit.testing.store_kit import StoreConformance
from snapkit_object_store.testing import damage_chunk, damage_manifest, damage_part, open_store


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

    @pytest.fixture
    def damage_chunk(self):
        return damage_chunk


class TestObjectStoreWholePartsConformance(StoreConformance):
    """The kit on a store with ``chunk_size = 0``: every part stored whole, as before chunking."""

    @pytest.fixture
    def make_store(self, moto_server, bucket):
        run = uuid.uuid4().hex[:8]
        return lambda path: open_store(
            moto_server.endpoint_url, bucket, f"{run}{path}", chunk_size=0
        )

    @pytest.fixture
    def damage_part(self):
        return damage_part

    @pytest.fixture
    def damage_manifest(self):
        return damage_manifest
