"""Normalized records match the JSON Schema each table publishes."""

from __future__ import annotations

import jsonschema
import pytest

from snapkit_oneroster.district import District
from snapkit_oneroster.normalize import normalize_record
from snapkit_oneroster.schema import COLLECTIONS, TABLES, record_json_schema, table_of


@pytest.mark.parametrize("name", sorted(TABLES))
def test_normalized_records_match_the_table_json_schema(district: District, name: str) -> None:
    validator = jsonschema.Draft202012Validator(record_json_schema(name))
    for n, record in enumerate(district.records(name)):
        validator.validate(normalize_record(name, record))
        if n == 300:
            break


def test_schema_refuses_extra_keys_and_missing_fields() -> None:
    validator = jsonschema.Draft202012Validator(record_json_schema("orgs"))
    assert not validator.is_valid({"sourcedId": "o1"})
    good = normalize_record("orgs", {"sourcedId": "o1"})
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "extra": 1})


def test_every_collection_maps_to_a_table() -> None:
    assert table_of("students").name == "users"
    assert table_of("schools").name == "orgs"
    assert {table_of(c).name for c in COLLECTIONS} == set(TABLES)
