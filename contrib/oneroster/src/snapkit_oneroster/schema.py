"""The OneRoster 1.1 tables this package reads, and how their fields look in each binding.

One table is described once: its REST envelope keys, and for every field the name it has in
the REST JSON binding, the column it has in the CSV binding, and its kind. The normalizer,
the CSV writer and the CSV reader all work from these descriptions, so the two bindings
cannot drift apart.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs


class Kind(enum.Enum):
    """How a field's value is shaped."""

    TEXT = "text"  #: a string; empty means absent
    BOOL = "bool"  #: "true"/"false" on the wire, a bool once normalized
    FLOAT = "float"  #: a number
    REF = "ref"  #: one GUIDRef ({"sourcedId", "type"}); CSV: one sourcedId
    REFS = "refs"  #: a list of GUIDRefs; CSV: comma-separated sourcedIds
    TEXTS = "texts"  #: a list of strings; CSV: comma-separated
    USER_IDS = "user_ids"  #: a list of {"type", "identifier"}; CSV: "{type:id},{type:id}"


@attrs.frozen
class Field:
    """One field of a table.

    :param name: the field's name in the REST JSON binding.
    :param column: the column's name in the CSV binding.
    :param kind: how the value is shaped.
    :param ref_type: the GUIDRef ``type`` for :attr:`Kind.REF` and :attr:`Kind.REFS` fields.
    """

    name: str
    column: str
    kind: Kind = Kind.TEXT
    ref_type: str | None = None


@attrs.frozen
class Table:
    """One OneRoster table.

    :param name: the table's name, which is also its CSV file's stem (``users`` -> ``users.csv``).
    :param many: the REST envelope key of a collection response.
    :param one: the REST envelope key of a single-record response.
    :param fields: every field, in the order of the CSV binding.
    """

    name: str
    many: str
    one: str
    fields: tuple[Field, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """The CSV header of this table."""
        return tuple(f.column for f in self.fields)

    @property
    def field_names(self) -> tuple[str, ...]:
        """The REST field names of this table."""
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field | None:
        """The field with this REST name, or ``None``."""
        for f in self.fields:
            if f.name == name:
                return f
        return None


def _base() -> tuple[Field, ...]:
    return (
        Field("sourcedId", "sourcedId"),
        Field("status", "status"),
        Field("dateLastModified", "dateLastModified"),
    )


def _ref(name: str, column: str, ref_type: str) -> Field:
    return Field(name, column, Kind.REF, ref_type)


def _refs(name: str, column: str, ref_type: str) -> Field:
    return Field(name, column, Kind.REFS, ref_type)


TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "academicSessions",
            "academicSessions",
            "academicSession",
            (
                *_base(),
                Field("title", "title"),
                Field("type", "type"),
                Field("startDate", "startDate"),
                Field("endDate", "endDate"),
                _ref("parent", "parentSourcedId", "academicSession"),
                Field("schoolYear", "schoolYear"),
            ),
        ),
        Table(
            "categories",
            "categories",
            "category",
            (*_base(), Field("title", "title")),
        ),
        Table(
            "classes",
            "classes",
            "class",
            (
                *_base(),
                Field("title", "title"),
                Field("grades", "grades", Kind.TEXTS),
                _ref("course", "courseSourcedId", "course"),
                Field("classCode", "classCode"),
                Field("classType", "classType"),
                Field("location", "location"),
                _ref("school", "schoolSourcedId", "org"),
                _refs("terms", "termSourcedIds", "academicSession"),
                Field("subjects", "subjects", Kind.TEXTS),
                Field("subjectCodes", "subjectCodes", Kind.TEXTS),
                Field("periods", "periods", Kind.TEXTS),
            ),
        ),
        Table(
            "courses",
            "courses",
            "course",
            (
                *_base(),
                _ref("schoolYear", "schoolYearSourcedId", "academicSession"),
                Field("title", "title"),
                Field("courseCode", "courseCode"),
                Field("grades", "grades", Kind.TEXTS),
                _ref("org", "orgSourcedId", "org"),
                Field("subjects", "subjects", Kind.TEXTS),
                Field("subjectCodes", "subjectCodes", Kind.TEXTS),
            ),
        ),
        Table(
            "enrollments",
            "enrollments",
            "enrollment",
            (
                *_base(),
                _ref("class", "classSourcedId", "class"),
                _ref("school", "schoolSourcedId", "org"),
                _ref("user", "userSourcedId", "user"),
                Field("role", "role"),
                Field("primary", "primary", Kind.BOOL),
                Field("beginDate", "beginDate"),
                Field("endDate", "endDate"),
            ),
        ),
        Table(
            "lineItems",
            "lineItems",
            "lineItem",
            (
                *_base(),
                Field("title", "title"),
                Field("description", "description"),
                Field("assignDate", "assignDate"),
                Field("dueDate", "dueDate"),
                _ref("class", "classSourcedId", "class"),
                _ref("category", "categorySourcedId", "category"),
                _ref("gradingPeriod", "gradingPeriodSourcedId", "academicSession"),
                Field("resultValueMin", "resultValueMin", Kind.FLOAT),
                Field("resultValueMax", "resultValueMax", Kind.FLOAT),
            ),
        ),
        Table(
            "orgs",
            "orgs",
            "org",
            (
                *_base(),
                Field("name", "name"),
                Field("type", "type"),
                Field("identifier", "identifier"),
                _ref("parent", "parentSourcedId", "org"),
            ),
        ),
        Table(
            "results",
            "results",
            "result",
            (
                *_base(),
                _ref("lineItem", "lineItemSourcedId", "lineItem"),
                _ref("student", "studentSourcedId", "user"),
                Field("scoreStatus", "scoreStatus"),
                Field("score", "score", Kind.FLOAT),
                Field("scoreDate", "scoreDate"),
                Field("comment", "comment"),
            ),
        ),
        Table(
            "users",
            "users",
            "user",
            (
                *_base(),
                Field("enabledUser", "enabledUser", Kind.BOOL),
                _refs("orgs", "orgSourcedIds", "org"),
                Field("role", "role"),
                Field("username", "username"),
                Field("userIds", "userIds", Kind.USER_IDS),
                Field("givenName", "givenName"),
                Field("familyName", "familyName"),
                Field("middleName", "middleName"),
                Field("identifier", "identifier"),
                Field("email", "email"),
                Field("sms", "sms"),
                Field("phone", "phone"),
                _refs("agents", "agentSourcedIds", "user"),
                Field("grades", "grades", Kind.TEXTS),
            ),
        ),
    )
}
"""Every table, by name, in alphabetical order."""


@attrs.frozen
class Collection:
    """A REST collection endpoint and the table its records belong to.

    :param name: the path segment, e.g. ``students``.
    :param table: the table name, e.g. ``users``.
    :param role: for ``students``/``teachers``: the user roles the endpoint serves.
    :param org_type: for ``schools``: the org type the endpoint serves.
    :param session_type: for ``terms``/``gradingPeriods``: the session type it serves.
    """

    name: str
    table: str
    role: tuple[str, ...] = ()
    org_type: str | None = None
    session_type: str | None = None


COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        *(Collection(name, name) for name in TABLES),
        Collection("students", "users", role=("student",)),
        Collection("teachers", "users", role=("teacher",)),
        Collection("schools", "orgs", org_type="school"),
        Collection("terms", "academicSessions", session_type="term"),
        Collection("gradingPeriods", "academicSessions", session_type="gradingPeriod"),
    )
}
"""Every REST collection this package knows, by path segment."""

STUDENT_ROLES = frozenset({"student"})
"""User roles that are children in a household."""

GUARDIAN_ROLES = frozenset({"parent", "guardian", "relative"})
"""User roles that are guardians of a student."""


def table(name: str) -> Table:
    """The table called ``name``.

    :raises KeyError: with the known names, when there is no such table.
    """
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown OneRoster table {name!r}; known: {', '.join(TABLES)}") from None


def table_of(collection: str) -> Table:
    """The table whose records a REST collection returns (``students`` -> ``users``).

    :raises KeyError: with the known names, when there is no such collection.
    """
    try:
        return TABLES[COLLECTIONS[collection].table]
    except KeyError:
        known = ", ".join(COLLECTIONS)
        raise KeyError(f"unknown OneRoster collection {collection!r}; known: {known}") from None


_REF_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"sourcedId": {"type": "string", "minLength": 1}, "type": {"type": "string"}},
    "required": ["sourcedId", "type"],
    "additionalProperties": False,
}

_KIND_SCHEMAS: dict[Kind, dict[str, Any]] = {
    Kind.TEXT: {"type": ["string", "null"]},
    Kind.BOOL: {"type": ["boolean", "null"]},
    Kind.FLOAT: {"type": ["number", "null"]},
    Kind.REF: {"oneOf": [{"type": "null"}, _REF_SCHEMA]},
    Kind.REFS: {"type": "array", "items": _REF_SCHEMA},
    Kind.TEXTS: {"type": "array", "items": {"type": "string"}},
    Kind.USER_IDS: {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"type": {"type": "string"}, "identifier": {"type": "string"}},
            "required": ["type", "identifier"],
            "additionalProperties": False,
        },
    },
}


def record_json_schema(table_name: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of one normalized record of a table.

    Every field is present; ``sourcedId`` is a non-empty string; no other keys.
    """
    t = table(table_name)
    properties = {f.name: dict(_KIND_SCHEMAS[f.kind]) for f in t.fields}
    properties["sourcedId"] = {"type": "string", "minLength": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"OneRoster 1.1 {t.one} (normalized)",
        "type": "object",
        "properties": properties,
        "required": list(t.field_names),
        "additionalProperties": False,
    }
