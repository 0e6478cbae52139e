"""Registers the ``csv`` and ``jsonl`` serializers (entry point ``serializers``).

Importing this module is cheap: the writers load when an export builds them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import SerializerDescriptor
from snapkit.markers import hookimpl

VERSION = "0.1.0"

CSV_SETTINGS: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "csv serializer settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "line_terminator": {
            "enum": ["crlf", "lf"],
            "default": "crlf",
            "description": "line ends: \\r\\n as RFC 4180 says (default) or \\n",
        },
    },
}
"""JSON Schema of the CSV serializer's settings (``[serializers.csv]``)."""

JSONL_SETTINGS: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "jsonl serializer settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {},
}


def make_csv(settings: Mapping[str, Any]) -> Any:
    """Build the CSV serializer from validated settings."""
    from snapkit_serializers.csv_format import CsvSerializer

    return CsvSerializer.from_settings(settings)


def make_jsonl(settings: Mapping[str, Any]) -> Any:
    """Build the JSON Lines serializer."""
    from snapkit_serializers.jsonl_format import JsonLinesSerializer

    return JsonLinesSerializer()


@hookimpl
def snapkit_register_serializers(register: Callable[[Any], None]) -> None:
    """Register ``csv`` and ``jsonl``."""
    register(
        SerializerDescriptor(
            key="csv",
            version=VERSION,
            factory=make_csv,
            settings_schema=CSV_SETTINGS,
            extension="csv",
            mediatype="text/csv",
            description="CSV: comma, QUOTE_MINIMAL, CRLF (or LF), UTF-8 without BOM, header row",
        )
    )
    register(
        SerializerDescriptor(
            key="jsonl",
            version=VERSION,
            factory=make_jsonl,
            settings_schema=JSONL_SETTINGS,
            extension="jsonl",
            mediatype="application/jsonl",
            description="JSON Lines: one object per row, keys in column order, UTF-8",
        )
    )
