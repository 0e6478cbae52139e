"""The ``[oracles.oneroster]`` section: its JSON Schema, its defaults, and the table keys.

Kept free of heavy imports: the plugin's entry point reads it when ``snapkit`` starts.

::

    [oracles.oneroster]
    source = "rest"                      # or "csv"
    base_url = "https://host/ims/oneroster/v1p1"
    auth = "oauth2"                      # or "oauth1"
    client_id = "..."
    client_secret = { env = "ONEROSTER_SECRET" }
    tables = ["users", "classes"]        # default: all nine
    csv_columns = { users = ["sourcedId", "email"] }   # the layout view's CSV columns
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SECTION = "oneroster"
"""The oracle key of the fetch summary, which is also the name of the settings section."""

TABLE_KEYS: dict[str, str] = {
    "users": "users",
    "orgs": "orgs",
    "classes": "classes",
    "courses": "courses",
    "academic_sessions": "academicSessions",
    "enrollments": "enrollments",
    "categories": "categories",
    "line_items": "lineItems",
    "results": "results",
}
"""Oracle key (and part name) -> OneRoster table name, for every table the plugin reads."""

USER_VIEWS: dict[str, tuple[str, ...]] = {
    "students": ("student",),
    "parents": ("parent", "guardian", "relative"),
}
"""Layout files that hold one group of users (the daily layout's ``students.csv``,
``parents.csv``)."""

_USER_COLUMNS = (
    "sourcedId", "status", "role", "givenName", "familyName", "email", "username",
    "identifier", "phone", "grades", "orgs", "agents",
)  # fmt: skip

DEFAULT_CSV_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": _USER_COLUMNS,
    "students": _USER_COLUMNS,
    "parents": _USER_COLUMNS,
    "orgs": ("sourcedId", "status", "name", "type", "identifier", "parent"),
    "classes": (
        "sourcedId", "status", "title", "classCode", "classType", "course", "school",
        "terms", "grades", "subjects", "periods",
    ),
    "courses": (
        "sourcedId", "status", "title", "courseCode", "org", "schoolYear", "grades", "subjects",
    ),
    "academic_sessions": (
        "sourcedId", "status", "title", "type", "startDate", "endDate", "parent", "schoolYear",
    ),
    "enrollments": (
        "sourcedId", "status", "class", "school", "user", "role", "primary", "beginDate",
        "endDate",
    ),
    "categories": ("sourcedId", "status", "title"),
    "line_items": (
        "sourcedId", "status", "title", "class", "category", "gradingPeriod", "assignDate",
        "dueDate", "resultValueMin", "resultValueMax",
    ),
    "results": (
        "sourcedId", "status", "lineItem", "student", "scoreStatus", "score", "scoreDate",
    ),
}  # fmt: skip
"""The CSV columns of each layout file (REST field names); ``csv_columns`` overrides them."""

SETTINGS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "[oracles.oneroster]",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "source": {"enum": ["rest", "csv"], "description": "where records come from"},
        "base_url": {"type": "string", "pattern": "^https?://", "description": "API root"},
        "auth": {"enum": ["oauth2", "oauth1"]},
        "token_url": {"type": "string", "pattern": "^https?://"},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {"type": "string", "minLength": 1},
        "signature_method": {"enum": ["HMAC-SHA256", "HMAC-SHA1"]},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 100_000},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "deadline": {"type": "number", "exclusiveMinimum": 0},
        "check_order": {"type": "boolean"},
        "retry": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
                "initial": {"type": "number", "minimum": 0},
                "maximum": {"type": "number", "minimum": 0},
                "jitter": {"type": "number", "minimum": 0},
            },
        },
        "path": {"type": "string", "minLength": 1, "description": "bulk export zip or folder"},
        "tables": {
            "type": "array",
            "items": {"enum": sorted(TABLE_KEYS)},
            "uniqueItems": True,
            "minItems": 1,
        },
        "csv_columns": {
            "type": "object",
            "propertyNames": {"enum": sorted({*TABLE_KEYS, *USER_VIEWS})},
            "additionalProperties": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 1,
            },
        },
    },
    "if": {"properties": {"source": {"const": "csv"}}, "required": ["source"]},
    "then": {"required": ["path"]},
    "else": {"required": ["base_url", "client_id", "client_secret"]},
}
"""The JSON Schema of ``[oracles.oneroster]`` (secrets checked as the strings they stand for)."""


def selected_tables(section: Mapping[str, Any]) -> tuple[str, ...]:
    """The table keys a section asks for, in :data:`TABLE_KEYS` order (unknown ones dropped;
    the settings schema reports them)."""
    wanted = section.get("tables")
    if not wanted:
        return tuple(TABLE_KEYS)
    return tuple(key for key in TABLE_KEYS if key in set(wanted))


def csv_columns(section: Mapping[str, Any], name: str) -> tuple[str, ...]:
    """The CSV columns of layout file ``name`` (a table key or a user view)."""
    configured = (section.get("csv_columns") or {}).get(name)
    return tuple(configured) if configured else DEFAULT_CSV_COLUMNS[name]
