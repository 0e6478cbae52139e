"""The settings of one files oracle (a ``[oracles.KEY]`` section with ``kind = "files"``)."""

from __future__ import annotations

from typing import Any

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind"],
    "oneOf": [{"required": ["path"]}, {"required": ["url"]}],
    "properties": {
        "kind": {"const": "files", "description": "marks the section as a files oracle"},
        "path": {"type": "string", "description": "a local file, relative to the config"},
        "url": {"type": "string", "pattern": "^https?://", "description": "an HTTP(S) URL"},
        "format": {
            "enum": ["json", "jsonl", "csv"],
            "description": "default: from the file extension",
        },
        "records": {
            "type": "boolean",
            "description": "store as a record stream (default: true for jsonl and csv)",
        },
        "key_column": {"type": "string", "description": "the field that identifies a record"},
        "schema": {
            "description": "JSON Schema of the payload (or of each record): an inline "
            "table or a path to a .json file"
        },
        "optional": {"type": "boolean"},
        "requires": {"type": "array", "items": {"type": "string"}},
        "version": {"type": "string"},
        "headers": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "HTTP headers; use { env = NAME } for tokens",
        },
        "encoding": {"type": "string", "default": "utf-8"},
        "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
    },
}
"""JSON Schema of a files oracle's settings."""


def infer_format(settings: dict[str, Any]) -> str:
    """Return the declared format, or the one the path's or URL's extension implies."""
    if "format" in settings:
        return str(settings["format"])
    name = str(settings.get("path") or settings.get("url") or "").split("?")[0].lower()
    for ext, fmt in ((".jsonl", "jsonl"), (".ndjson", "jsonl"), (".csv", "csv"), (".json", "json")):
        if name.endswith(ext):
            return fmt
    return "json"
