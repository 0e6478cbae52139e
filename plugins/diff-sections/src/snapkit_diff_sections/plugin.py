"""The plugin module the ``snapkit`` entry point names: registers the three sections.

Importing this module is cheap: each section's module (and the kernel's diff engine) loads when
the diff builds the section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from snapkit import hookimpl
from snapkit.descriptors import DiffSectionDescriptor
from snapkit.hookspecs import Register
from snapkit_diff_sections.settings import TABLE_SETTINGS_SCHEMA

if TYPE_CHECKING:
    from snapkit_diff_sections.jsondiff import JsonSection
    from snapkit_diff_sections.summary import SummarySection
    from snapkit_diff_sections.table import TableSection

VERSION = "0.1.0"


def make_summary(settings: Mapping[str, Any] | None = None) -> SummarySection:
    """Build the ``summary`` section."""
    from snapkit_diff_sections.summary import SummarySection

    return SummarySection(settings)


def make_json(settings: Mapping[str, Any] | None = None) -> JsonSection:
    """Build the ``json`` section."""
    from snapkit_diff_sections.jsondiff import JsonSection

    return JsonSection(settings)


def make_table(settings: Mapping[str, Any] | None = None) -> TableSection:
    """Build the ``table`` section."""
    from snapkit_diff_sections.table import TableSection

    return TableSection(settings)


@hookimpl
def snapkit_register_diff_sections(register: Register) -> None:
    """Register ``summary`` (first), ``json`` and ``table``."""
    register(
        DiffSectionDescriptor(
            key="summary",
            version=VERSION,
            factory=make_summary,
            order=0,
            settings_schema={"type": "object", "additionalProperties": False},
            description="Ids, times, versions, statuses, part sizes and row counts side by side.",
        )
    )
    register(
        DiffSectionDescriptor(
            key="json",
            version=VERSION,
            factory=make_json,
            order=50,
            settings_schema={"type": "object", "additionalProperties": False},
            description="Path-addressed changes of small payloads, with numeric deltas.",
        )
    )
    register(
        DiffSectionDescriptor(
            key="table",
            version=VERSION,
            factory=make_table,
            order=60,
            settings_schema=TABLE_SETTINGS_SCHEMA,
            description="Keyed tables: rows added, removed and changed, with changed fields.",
        )
    )
