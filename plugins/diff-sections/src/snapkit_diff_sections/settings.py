"""Settings schemas of the sections, kept apart so the plugin module registers them cheaply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TABLE_SETTINGS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "memory_mb": {
            "type": "integer",
            "minimum": 1,
            "description": "MB of a table's rows held in memory before the diff "
            "partitions to disk (peak memory is about twice this).",
        },
        "tmpdir": {"type": "string", "description": "Where partitions are written."},
    },
}
"""JSON Schema of ``[diff_sections.table]``."""
