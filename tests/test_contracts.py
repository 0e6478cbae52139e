"""Every contract round-trips through the one cattrs converter and matches its JSON Schema."""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from typing import Any

import attrs
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapkit import contracts
from snapkit.canonical import canonical_bytes
from snapkit.convert import dumps, from_json, identity_json, parse, to_json
from snapkit.errors import ContractError
from snapkit.schemas import CONTRACTS, schema_for

NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,11}", fullmatch=True)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | FLOATS | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)


def strategy_for(tp: Any, validated: bool = False) -> st.SearchStrategy[Any]:
    """A strategy of values of the type ``tp``, as declared on a contract's field."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return JSON
    if tp is str:
        return NAMES if validated else st.text(max_size=12)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.integers(min_value=-(2**63), max_value=2**63)
    if tp is float:
        return FLOATS
    if tp is type(None):
        return st.none()
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([strategy_for(a, validated) for a in args])
    if origin is tuple:
        return st.lists(strategy_for(args[0]), max_size=3).map(tuple)
    if origin in (dict, Mapping):
        return st.dictionaries(st.text(max_size=6), strategy_for(args[1]), max_size=3)
    if attrs.has(tp):
        return contract_strategy(tp)
    raise TypeError(tp)


def contract_strategy(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls, vars(contracts))
    fields = {
        a.name: strategy_for(hints[a.name], validated=a.validator is not None)
        for a in attrs.fields(cls)
        if a.init
    }
    return st.builds(cls, **fields)


@pytest.mark.parametrize("name", sorted(CONTRACTS))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_contract_round_trips_and_matches_its_schema(name, data):
    cls = CONTRACTS[name]
    value = data.draw(contract_strategy(cls))
    as_json = to_json(value)
    jsonschema.validate(as_json, schema_for(cls), cls=jsonschema.Draft202012Validator)
    assert from_json(as_json, cls) == value
    assert parse(dumps(value), cls) == value
    assert dumps(from_json(as_json, cls)) == dumps(value)


def _manifest(**changes: Any) -> contracts.SnapshotManifest:
    base = contracts.SnapshotManifest(
        scope=contracts.Scope("district", "class-1", None, {"threshold": 80}),
        schema_version="1",
        calculation_version="1",
        status="success",
        oracles=(contracts.OracleStatus("users", "1", "ok", "loaded"),),
        payloads={"summary": {"b": 2, "a": 1}},
        parts=(contracts.PartRef("users", "ab" * 32, 3, 120, "users", "id"),),
        created_at="2026-01-01T00:00:00.000000Z",
    )
    return attrs.evolve(base, **changes)


def test_snapshot_id_excludes_capture_time_and_run():
    a = _manifest()
    run = contracts.RunInfo("2026-01-02T00:00:00Z", "2026-01-02T00:00:01Z", 1000.0)
    b = _manifest(created_at="2026-02-02T00:00:00.000000Z", run=run)
    assert a.id == b.id
    assert "created_at" not in identity_json(b) and "run" not in identity_json(b)
    assert a.id != _manifest(status="partial").id
    assert a.id != _manifest(payloads={"summary": {"a": 1, "b": 3}}).id


def test_snapshot_id_ignores_payload_key_order():
    assert _manifest(payloads={"summary": {"a": 1, "b": 2}}).id == _manifest().id


def test_snapshot_manifest_json_names_its_format():
    data = to_json(_manifest())
    assert data["format"] == contracts.SNAPSHOT_FORMAT == "snapkit.snapshot/1"
    assert to_json(contracts.Diff("a", "b"))["format"] == "snapkit.diff/1"
    assert to_json(contracts.ExportManifest("n", "p", "id"))["format"] == "snapkit.export/1"


def test_contracts_are_frozen():
    manifest = _manifest()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        manifest.status = "failed"  # type: ignore[misc]


def test_invalid_json_names_the_class_and_the_problem():
    data = to_json(_manifest())
    del data["scope"]
    with pytest.raises(ContractError, match=r"invalid SnapshotManifest JSON: .*scope"):
        from_json(data, contracts.SnapshotManifest)
    with pytest.raises(ContractError, match="invalid Scope JSON"):
        from_json({"namespace": "../up"}, contracts.Scope)
    with pytest.raises(ContractError, match="invalid Scope JSON"):
        parse(b"{not json", contracts.Scope)


def test_identifiers_are_checked_at_the_boundary():
    from snapkit.errors import InvalidIdentifierError

    for bad in ("", "../x", "a/b", ".hidden", "x" * 200):
        with pytest.raises(InvalidIdentifierError):
            contracts.Scope(bad)
    with pytest.raises(InvalidIdentifierError):
        contracts.PartRef("a/b", "0" * 64, 0, 0, "o")


def test_manifest_bytes_are_canonical():
    manifest = _manifest()
    assert dumps(manifest) == canonical_bytes(to_json(manifest))
    assert dumps(manifest).startswith(b'{"calculation_version":"1",')
