"""JSON Schemas of the contracts' JSON forms, derived from their attrs definitions.

The schema is built from the class itself so it cannot drift from the code; each carries a
``$id`` naming the contract and its format version so a reader can tell what it reads.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

import attrs

from snapkit import contracts

CONTRACTS: dict[str, type] = {
    "scope": contracts.Scope,
    "error": contracts.ErrorInfo,
    "part": contracts.PartRef,
    "oracle-result": contracts.OracleResult,
    "snapshot-manifest": contracts.SnapshotManifest,
    "snapshot-info": contracts.SnapshotInfo,
    "pointer": contracts.Pointer,
    "history-entry": contracts.HistoryEntry,
    "projection-result": contracts.ProjectionResult,
    "export-manifest": contracts.ExportManifest,
    "diff": contracts.Diff,
}
"""Each contract by the name its schema is published under."""

SCHEMA_VERSION = "1"


@cache
def schema_for(cls: type) -> dict[str, Any]:
    """Return the JSON Schema (draft 2020-12) of the JSON form of contract ``cls``."""
    defs: dict[str, Any] = {}
    root = _object_schema(cls, defs)
    name = next((key for key, value in CONTRACTS.items() if value is cls), cls.__name__)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:snapkit:schema:{name}:v{SCHEMA_VERSION}",
        "title": cls.__name__,
        "description": (cls.__doc__ or "").strip().splitlines()[0],
        **root,
        "$defs": defs,
    }


def all_schemas() -> dict[str, dict[str, Any]]:
    """Return every contract's schema by its published name."""
    return {name: schema_for(cls) for name, cls in CONTRACTS.items()}


def _object_schema(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, vars(contracts))
    properties: dict[str, Any] = {}
    required: list[str] = []
    for attribute in attrs.fields(cls):
        properties[attribute.name] = _type_schema(hints[attribute.name], defs)
        if attribute.default is attrs.NOTHING:
            required.append(attribute.name)
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _type_schema(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is type(None):
        return {"type": "null"}
    if origin is typing.Literal:
        return {"enum": list(args)}
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_type_schema(arg, defs) for arg in args]}
    if origin is tuple:
        return {"type": "array", "items": _type_schema(args[0], defs)}
    if origin in (dict, Mapping) or tp is dict:
        value = args[1] if args else Any
        return {"type": "object", "additionalProperties": _type_schema(value, defs)}
    if attrs.has(tp):
        if tp.__name__ not in defs:
            defs[tp.__name__] = {}
            defs[tp.__name__] = _object_schema(tp, defs)
        return {"$ref": f"#/$defs/{tp.__name__}"}
    raise TypeError(f"no JSON Schema mapping for {tp!r}")
