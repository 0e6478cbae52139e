"""The ``[oracles.toastmasters]`` section: its JSON Schema, the report names and the oracle keys.

Kept free of heavy imports: the plugin's entry point reads it when ``snapkit`` starts.

::

    [oracles.toastmasters]
    base_url = "https://dashboards.toastmasters.org"
    districts = ["61", "86", "F"]
    program_year = "2026-2027"
    month_end = "2026-09-30"        # optional: the month to read; default: the latest
"""

from __future__ import annotations

from typing import Any

SECTION = "toastmasters"
"""The key of the summary oracle, which is also the name of the settings section."""

METADATA = "tm_metadata"
"""The collector: fetches, checks and normalizes every export; its payload is the metadata."""

TABLE_ORACLES: dict[str, str] = {
    "tm_districts": "districts",
    "tm_divisions": "divisions",
    "tm_areas": "areas",
    "tm_clubs": "clubs",
    "tm_district_statistics": "district_statistics",
}
"""Record oracle key -> part (table) name, for every table the plugin writes."""

REPORTS: dict[str, str] = {
    "district_summary": "districtsummary",
    "district_performance": "districtperformance",
    "club_performance": "clubperformance",
}
"""Report key -> the report's name in the dashboard's export URL."""

REPORT_TITLES: dict[str, str] = {
    "district_summary": "district summary",
    "district_performance": "district performance",
    "club_performance": "club performance",
}
"""Report key -> how messages name the report."""

SOURCE = "toastmasters-dashboard"
"""The ``source`` of the metadata unless the section names another."""

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[oracles.toastmasters]",
    "type": "object",
    "additionalProperties": False,
    "required": ["base_url", "districts", "program_year"],
    "properties": {
        "base_url": {
            "type": "string",
            "pattern": "^https?://",
            "description": "the dashboard's root; exports are at {base_url}/export.aspx",
        },
        "districts": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {
                "anyOf": [
                    {"type": "string", "pattern": "^[0-9A-Za-z]{1,3}$"},
                    {"type": "integer", "minimum": 1, "maximum": 999},
                ]
            },
            "description": "the districts to fetch (numbers, or letters such as F and U)",
        },
        "program_year": {
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{4}$",
            "description": "e.g. 2026-2027 (July to June)",
        },
        "month_end": {
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "the last day of the month to read; default: latest",
        },
        "as_of": {
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "description": "the dashboard's as-of date to ask for; default: latest",
        },
        "timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "description": "seconds per HTTP request (also bounded by refresh.timeout)",
        },
        "source": {"type": "string", "minLength": 1, "description": "the metadata's source label"},
        "check_as_of": {
            "type": "boolean",
            "description": "refuse data older than the current snapshot's",
        },
    },
}
"""The JSON Schema of ``[oracles.toastmasters]``."""


def district_id(value: object) -> str:
    """A district's identifier as the tables hold it: digits without leading zeros, or
    upper-case letters (``"09"`` and ``9`` give ``"9"``; ``"f"`` gives ``"F"``)."""
    text = str(value).strip().upper()
    if text.isdigit():
        return str(int(text))
    return text
