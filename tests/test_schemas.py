"""The JSON Schemas of the contracts' JSON forms (snapkit.schemas)."""

from __future__ import annotations

import attrs
import jsonschema
import pytest

from snapkit import contracts
from snapkit.convert import to_json
from snapkit.schemas import CONTRACTS, SCHEMA_VERSION, all_schemas, schema_for

SPEC_CONTRACTS = {  # docs/plugins.md: each of these has a published schema
    "scope",
    "oracle-result",
    "snapshot-manifest",
    "projection-result",
    "export-manifest",
    "diff",
}


def test_every_contract_of_the_spec_has_a_schema():
    assert set(all_schemas()) >= SPEC_CONTRACTS


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_each_schema_is_valid_draft_2020_12_and_versioned(name):
    schema = schema_for(CONTRACTS[name])
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"urn:snapkit:schema:{name}:v{SCHEMA_VERSION}"
    assert schema["title"] == CONTRACTS[name].__name__
    assert schema["description"]


@pytest.mark.parametrize("name", sorted(CONTRACTS))
def test_schema_lists_exactly_the_fields_and_refuses_others(name):
    cls = CONTRACTS[name]
    schema = schema_for(cls)
    assert set(schema["properties"]) == {a.name for a in attrs.fields(cls)}
    assert schema["additionalProperties"] is False
    required = {a.name for a in attrs.fields(cls) if a.default is attrs.NOTHING}
    assert set(schema["required"]) == required


def test_schema_refuses_a_wrong_value():
    schema = schema_for(contracts.ProjectionResult)
    good = to_json(contracts.ProjectionResult("progress", "ready", value={"n": 1}))
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError, match="'done' is not one of"):
        jsonschema.validate({**good, "status": "done"}, schema)
    with pytest.raises(jsonschema.ValidationError, match="Additional properties"):
        jsonschema.validate({**good, "extra": 1}, schema)


def test_nested_contracts_are_shared_definitions():
    schema = schema_for(contracts.SnapshotManifest)
    assert schema["properties"]["scope"] == {"$ref": "#/$defs/Scope"}
    assert {"Scope", "ErrorInfo", "OracleStatus", "PartRef", "RunInfo", "Timings"} <= set(
        schema["$defs"]
    )
    assert schema["properties"]["status"] == {"enum": ["success", "partial", "failed"]}


def test_an_unmappable_type_is_an_error():
    from snapkit.schemas import _type_schema

    with pytest.raises(TypeError, match="no JSON Schema mapping"):
        _type_schema(set[int], {})
