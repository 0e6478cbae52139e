"""The JSON Schema of each table's records, of the metadata and of the summary payload.

``SCHEMA_VERSION`` is the version of these table layouts and ``CALCULATION_VERSION`` that of
the computed fields (member change, percentages, counts by level); both are recorded in every
snapshot's metadata, so a reader of an old snapshot knows what it reads.
"""

from __future__ import annotations

from typing import Any

SCHEMA_VERSION = "1"
"""The version of the table layouts below."""

CALCULATION_VERSION = "1"
"""The version of the computed fields (change, percentages rounded to 2 places, counts)."""

_COUNT: dict[str, Any] = {"type": "integer", "minimum": 0}
_SIGNED: dict[str, Any] = {"type": "integer"}
_PCT: dict[str, Any] = {"type": ["number", "null"]}
_DISTRICT: dict[str, Any] = {"type": "string", "pattern": "^[0-9A-Z]{1,3}$"}
_DATE: dict[str, Any] = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_DIVISION: dict[str, Any] = {"type": ["string", "null"], "pattern": "^[A-Z]$"}
_AREA: dict[str, Any] = {"type": ["string", "null"], "pattern": "^[1-9][0-9]*$"}


def _table(title: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": sorted(properties),
        "properties": properties,
    }


_GROUP_TOTALS = {
    "clubs": _COUNT,
    "membership_base": _COUNT,
    "active_members": _COUNT,
    "member_change": _SIGNED,
    "distinguished_clubs": _COUNT,
}

TABLE_SCHEMAS: dict[str, dict[str, Any]] = {
    "districts": _table(
        "a district",
        {
            "district_id": _DISTRICT,
            "program_year": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{4}$"},
            "month_end": _DATE,
            "data_as_of": _DATE,
            "divisions": _COUNT,
            "areas": _COUNT,
            "clubs": _COUNT,
            "unassigned_clubs": _COUNT,
        },
    ),
    "divisions": _table(
        "a division",
        {
            "division_id": {"type": "string"},
            "district_id": _DISTRICT,
            "division": {"type": "string", "pattern": "^[A-Z]$"},
            "areas": _COUNT,
            **_GROUP_TOTALS,
        },
    ),
    "areas": _table(
        "an area",
        {
            "area_id": {"type": "string"},
            "district_id": _DISTRICT,
            "division": _DIVISION,
            "area": {"type": "string", "pattern": "^[1-9][0-9]*$"},
            **_GROUP_TOTALS,
        },
    ),
    "clubs": _table(
        "a club",
        {
            "club_number": {"type": "integer", "minimum": 1},
            "club_name": {"type": "string", "minLength": 1},
            "district_id": _DISTRICT,
            "division": _DIVISION,
            "area": _AREA,
            "status": {"enum": ["active", "suspended", "ineligible", "low"]},
            "membership_base": _COUNT,
            "active_members": _COUNT,
            "member_change": _SIGNED,
            "goals_met": _COUNT,
            "level_1s": _COUNT,
            "level_2s": _COUNT,
            "add_level_2s": _COUNT,
            "level_3s": _COUNT,
            "level_4s": _COUNT,
            "add_level_4s": _COUNT,
            "new_members": _COUNT,
            "add_new_members": _COUNT,
            "officers_trained_round_1": _COUNT,
            "officers_trained_round_2": _COUNT,
            "dues_on_time_oct": _COUNT,
            "dues_on_time_apr": _COUNT,
            "officer_list_on_time": _COUNT,
            "distinguished": {"enum": ["D", "S", "P", "M", None]},
            "csp": {"type": ["boolean", "null"]},
            "new_paid": _COUNT,
            "late_renewals": _COUNT,
            "oct_renewals": _COUNT,
            "apr_renewals": _COUNT,
            "charter_members": _COUNT,
            "total_paid": _COUNT,
            "charter_date": {"type": ["string", "null"], "pattern": _DATE["pattern"]},
        },
    ),
    "district_statistics": _table(
        "a district's statistics",
        {
            "district_id": _DISTRICT,
            "clubs_total": _COUNT,
            "clubs_active": _COUNT,
            "clubs_suspended": _COUNT,
            "clubs_ineligible": _COUNT,
            "clubs_low": _COUNT,
            "membership_base": _COUNT,
            "membership_total": _COUNT,
            "membership_change": _SIGNED,
            "membership_change_pct": _PCT,
            "distinguished": _COUNT,
            "select_distinguished": _COUNT,
            "presidents_distinguished": _COUNT,
            "smedley_distinguished": _COUNT,
            "distinguished_total": _COUNT,
            "distinguished_pct": _PCT,
        },
    ),
}
"""Table name -> the JSON Schema of one record."""

KEY_COLUMNS: dict[str, str] = {
    "districts": "district_id",
    "divisions": "division_id",
    "areas": "area_id",
    "clubs": "club_number",
    "district_statistics": "district_id",
}
"""Table name -> the column that identifies a row (diffs are row by row on it)."""

METADATA_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "the collected exports' metadata",
    "type": "object",
    "additionalProperties": False,
    "required": [
        "source",
        "program_year",
        "month_end",
        "data_as_of",
        "districts",
        "schema_version",
        "calculation_version",
    ],
    "properties": {
        "source": {"type": "string"},
        "program_year": {"type": "string"},
        "month_end": _DATE,
        "data_as_of": _DATE,
        "schema_version": {"type": "string"},
        "calculation_version": {"type": "string"},
        "districts": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "required": ["data_as_of", "clubs", "open_year_columns"],
                "properties": {
                    "data_as_of": _DATE,
                    "clubs": _COUNT,
                    "open_year_columns": {"type": "boolean"},
                },
            },
        },
    },
}
"""The payload of ``tm_metadata``: the dashboard's ``metadata`` (docs/toastmasters.md; the
fetch time is kept outside the snapshot id)."""

SUMMARY_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "what the toastmasters oracles wrote",
    "type": "object",
    "additionalProperties": False,
    "required": ["tables", "records"],
    "properties": {
        "tables": {"type": "object", "additionalProperties": _COUNT},
        "records": _COUNT,
    },
}
"""The payload of the ``toastmasters`` oracle: records per table."""
