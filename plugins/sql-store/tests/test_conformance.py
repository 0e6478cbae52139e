"""The SQLite and PostgreSQL stores pass the whole store conformance kit, unchanged: with
parts kept as chunks (``chunk_size = 768``, so the kit's chunk checks run) and, for SQLite,
whole (``chunk_size = 0``, the default)."""

from __future__ import annotations

import pytest

from snapkit.testing.store_kit import StoreConformance
from snapkit_sql_store import open_sqlite
from snapkit_sql_store.testing import damage_chunk, damage_manifest, damage_part


class _Damage:
    @pytest.fixture
    def damage_part(self):
        return damage_part

    @pytest.fixture
    def damage_manifest(self):
        return damage_manifest

    @pytest.fixture
    def damage_chunk(self):
        return damage_chunk


class TestSqliteStoreConformance(_Damage, StoreConformance):
    @pytest.fixture
    def make_store(self, open_sqlite_at):
        return open_sqlite_at


class TestPostgresStoreConformance(_Damage, StoreConformance):
    @pytest.fixture
    def make_store(self, open_pg_at):
        return open_pg_at


class TestSqliteWholePartsConformance(_Damage, StoreConformance):
    @pytest.fixture
    def make_store(self, handles):
        return lambda path: handles(open_sqlite(path / "store.sqlite3", chunk_size=0))
