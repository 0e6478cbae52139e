"""The SQLite and PostgreSQL stores pass the whole store conformance kit, unchanged."""

from __future__ import annotations

import pytest

from snapkit.testing.store_kit import StoreConformance
from snapkit_sql_store.testing import damage_manifest, damage_part


class _Damage:
    @pytest.fixture
    def damage_part(self):
        return damage_part

    @pytest.fixture
    def damage_manifest(self):
        return damage_manifest


class TestSqliteStoreConformance(_Damage, StoreConformance):
    @pytest.fixture
    def make_store(self, open_sqlite_at):
        return open_sqlite_at


class TestPostgresStoreConformance(_Damage, StoreConformance):
    @pytest.fixture
    def make_store(self, open_pg_at):
        return open_pg_at
