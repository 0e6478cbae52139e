"""The plugin module the ``snapkit`` entry point names: registers the three sections."""

from __future__ import annotations

from snapkit import hookimpl
from snapkit.descriptors import DiffSectionDescriptor
from snapkit.hookspecs import Register

from snapkit_diff_sections.jsondiff import JsonSection
from snapkit_diff_sections.summary import SummarySection
from snapkit_diff_sections.table import TABLE_SETTINGS_SCHEMA, TableSection

VERSION = "0.1.0"


@hookimpl
def snapkit_register_diff_sections(register: Register) -> None:
    """Register ``summary`` (first), ``json`` and ``table``."""
    register(DiffSectionDescriptor(
        key="summary", version=VERSION, factory=SummarySection, order=0,
        settings_schema={"type": "object", "additionalProperties": False},
        description="Ids, times, versions, statuses, part sizes and row counts side by side.",
    ))
    register(DiffSectionDescriptor(
        key="json", version=VERSION, factory=JsonSection, order=50,
        settings_schema={"type": "object", "additionalProperties": False},
        description="Path-addressed changes of small payloads, with numeric deltas.",
    ))
    register(DiffSectionDescriptor(
        key="table", version=VERSION, factory=TableSection, order=60,
        settings_schema=TABLE_SETTINGS_SCHEMA,
        description="Keyed tables: rows added, removed and changed, with changed fields.",
    ))
