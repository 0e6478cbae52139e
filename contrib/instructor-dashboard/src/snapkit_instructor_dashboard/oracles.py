"""Oracles over one class of a OneRoster 1.1 REST API (through ``snapkit_oneroster``).

The scope's ``context`` is the class's sourcedId; its optional ``container`` is a grading
category's sourcedId, which narrows the line items (and so the results) to that category.

Settings (``[oracles.dashboard_class]``; the other three oracles use the same section unless
they have their own): ``base_url`` (the API root), ``client_id``, ``client_secret`` (write
``{env = "NAME"}``), ``auth`` (``oauth2``, the default, or ``oauth1``), ``token_url`` (OAuth 2;
default: ``/token`` on the API's host), ``page_size`` and ``timeout``.

The ``snapkit_oneroster`` client reads whole collections (it has no nested or filtered
reads), so these oracles stream a collection page by page and keep the class's records; memory
holds one page at a time.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from snapkit.errors import OracleError

SETTINGS_SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "instructor-dashboard oracle settings",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "base_url": {
            "type": "string",
            "pattern": "^https?://",
            "description": "the OneRoster 1.1 API root, e.g. https://host/ims/oneroster/v1p1",
        },
        "token_url": {
            "type": "string",
            "pattern": "^https?://",
            "description": "OAuth 2 token endpoint (default: /token on the host)",
        },
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": {
            "type": "string",
            "minLength": 1,
            "description": 'write {env = "NAME"} to read it from NAME',
        },
        "auth": {"enum": ["oauth2", "oauth1"], "default": "oauth2"},
        "page_size": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1000},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
    },
}
"""JSON Schema of the oracles' settings."""

_REF = {"type": ["string", "null"]}
_TEXT = {"type": ["string", "null"]}
_NUMBER = {"type": ["number", "null"]}

CLASS_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["sourcedId", "title", "container"],
    "properties": {
        "sourcedId": {"type": "string"},
        "title": _TEXT,
        "classCode": _TEXT,
        "course": _REF,
        "school": _REF,
        "container": {
            "anyOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["sourcedId"],
                    "properties": {"sourcedId": {"type": "string"}, "title": _TEXT},
                },
            ]
        },
    },
}
ROSTER_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["sourcedId"],
    "properties": {
        "sourcedId": {"type": "string"},
        "givenName": _TEXT,
        "familyName": _TEXT,
        "identifier": _TEXT,
    },
}
LINE_ITEM_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["sourcedId", "title"],
    "properties": {
        "sourcedId": {"type": "string"},
        "title": _TEXT,
        "assignDate": _TEXT,
        "dueDate": _TEXT,
        "category": _REF,
        "resultValueMin": _NUMBER,
        "resultValueMax": _NUMBER,
    },
}


def _dictionary(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return {
        "type": "object",
        "required": ["values", "codes"],
        "additionalProperties": False,
        "properties": {
            "values": {"type": "array", "items": value},
            "codes": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        },
    }


RESULT_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "required": ["lineItem", "students", "scores", "scoreStatus", "scoreDate"],
    "additionalProperties": False,
    "properties": {
        "lineItem": {"type": "string"},
        "students": {"type": "array", "items": {"type": "string"}},
        "scores": {"type": "array", "items": _NUMBER},
        "scoreStatus": _dictionary(_TEXT),
        "scoreDate": _dictionary(_TEXT),
    },
}
"""One record per line item: its results as aligned columns, one entry per student (see
:func:`group_results`); ``scoreStatus`` and ``scoreDate`` are dictionary-encoded (distinct
``values``, and per student the position of its value in them)."""


def _ref(value: Any) -> str | None:
    return value.get("sourcedId") if isinstance(value, dict) else value


def group_results(results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Turn OneRoster result records into the ``dashboard_results`` table: one record per
    line item (sorted by its sourcedId) holding aligned columns, one entry per student:

    - ``students``: the students' sourcedIds, sorted;
    - ``scores``: their scores (``null`` for none);
    - ``scoreStatus`` and ``scoreDate``: dictionary-encoded, as ``{"values": [...],
      "codes": [...]}``: the distinct values, sorted (``null`` first), and per student the
      position of its value in ``values``. Dates are days (``YYYY-MM-DD``, OneRoster 1.1's
      ``scoreDate``); ascending values make a greater code a later day.

    Of two results of one student for one line item the newer counts: the later
    ``scoreDate`` (its day), then the greater sourcedId. A class's gradebook as aligned,
    dictionary-encoded columns is a sixth of the bytes of one record per result, and every
    projection reads it a line item at a time.
    """
    newest: dict[tuple[str, str], Mapping[str, Any]] = {}
    for result in results:
        key = (str(_ref(result.get("lineItem"))), str(_ref(result.get("student"))))
        previous = newest.get(key)
        if previous is None or _newer(result, previous):
            newest[key] = result
    by_item: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for (item, student), result in newest.items():
        by_item.setdefault(item, []).append((student, result))
    table = []
    for item in sorted(by_item):
        entries = sorted(by_item[item], key=lambda entry: entry[0])
        table.append(
            {
                "lineItem": item,
                "students": [student for student, _ in entries],
                "scores": [result.get("score") for _, result in entries],
                "scoreStatus": encode_dictionary(
                    [result.get("scoreStatus") for _, result in entries]
                ),
                "scoreDate": encode_dictionary(
                    [_day(result.get("scoreDate")) for _, result in entries]
                ),
            }
        )
    return table


def encode_dictionary(values: Sequence[str | None]) -> dict[str, list[Any]]:
    """Dictionary-encode a column: ``{"values": distinct values sorted, null first,
    "codes": the position of each value in them}``."""
    distinct = sorted(set(values), key=lambda v: (v is not None, v or ""))
    code = {value: k for k, value in enumerate(distinct)}
    return {"values": distinct, "codes": [code[value] for value in values]}


def decode_dictionary(column: Mapping[str, Any]) -> list[Any]:
    """The values of a dictionary-encoded column, one per entry (the inverse of
    :func:`encode_dictionary`)."""
    values = column["values"]
    return [values[k] for k in column["codes"]]


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and value else None


def _newer(result: Mapping[str, Any], than: Mapping[str, Any]) -> bool:
    return ((result.get("scoreDate") or "")[:10], str(result.get("sourcedId"))) > (
        (than.get("scoreDate") or "")[:10],
        str(than.get("sourcedId")),
    )


class OneRosterSource:
    """Builds ``snapkit_oneroster`` clients from the oracles' settings."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        missing = [k for k in ("base_url", "client_id", "client_secret") if not settings.get(k)]
        if missing:
            raise OracleError(
                "instructor-dashboard oracles need " + ", ".join(missing),
                hint="set them under [oracles.dashboard_class] in snapkit.toml",
            )
        self.settings = dict(settings)

    def client(self, timeout: float) -> Any:
        """A client for one oracle call (close it, or use it as a context manager)."""
        from snapkit_oneroster.client import OneRosterClient

        s = self.settings
        options = {
            "page_size": s.get("page_size", 1000),
            "timeout": min(float(s.get("timeout", timeout)), timeout),
        }
        if s.get("auth", "oauth2") == "oauth1":
            return OneRosterClient.oauth1(
                s["base_url"], s["client_id"], s["client_secret"], **options
            )
        token_url = s.get("token_url") or _default_token_url(s["base_url"])
        return OneRosterClient.oauth2(
            s["base_url"], token_url, s["client_id"], s["client_secret"], **options
        )


def _default_token_url(base_url: str) -> str:
    parts = urllib.parse.urlsplit(base_url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/token", "", ""))


def _context(call: Any) -> str:
    context = call.scope.context
    if not context:
        raise OracleError(
            "the scope has no context", hint="set scope.context to the class's sourcedId"
        )
    return str(context)


class ClassOracle:
    """``dashboard_class``: the class record and the scope's grading category (a payload)."""

    def __init__(self, source: OneRosterSource) -> None:
        self.source = source

    def load(self, call: Any) -> dict[str, Any]:
        """Read the class (and category) records."""
        from snapkit_oneroster.errors import NotFoundError

        context = _context(call)
        with self.source.client(call.timeout) as client:
            try:
                record = client.get_record("classes", context)
            except NotFoundError:
                raise OracleError(
                    f"class {context!r} is not on the OneRoster server", hint="check scope.context"
                ) from None
            container = None
            if call.scope.container:
                try:
                    category = client.get_record("categories", call.scope.container)
                except NotFoundError:
                    raise OracleError(
                        f"grading category {call.scope.container!r} is not on the server",
                        hint="check scope.container",
                    ) from None
                container = {"sourcedId": category["sourcedId"], "title": category.get("title")}
        return {
            "sourcedId": record["sourcedId"],
            "title": record.get("title"),
            "classCode": record.get("classCode"),
            "course": _ref(record.get("course")),
            "school": _ref(record.get("school")),
            "container": container,
        }


class RosterOracle:
    """``dashboard_roster``: the class's students with active enrollments (records)."""

    def __init__(self, source: OneRosterSource) -> None:
        self.source = source

    def load(self, call: Any) -> Iterator[dict[str, Any]]:
        """Stream enrollments, then users, keeping the class's students."""
        context = _context(call)
        with self.source.client(call.timeout) as client:
            students = {
                _ref(e.get("user"))
                for e in client.iter_records("enrollments")
                if _ref(e.get("class")) == context
                and e.get("role") == "student"
                and e.get("status") == "active"
            }
            for user in client.iter_records("users"):
                if user["sourcedId"] in students and user.get("status") == "active":
                    yield {
                        "sourcedId": user["sourcedId"],
                        "givenName": user.get("givenName"),
                        "familyName": user.get("familyName"),
                        "identifier": user.get("identifier"),
                    }


def _line_items(client: Any, context: str, container: str | None) -> Iterator[dict[str, Any]]:
    for item in client.iter_records("lineItems"):
        if _ref(item.get("class")) != context or item.get("status") != "active":
            continue
        if container and _ref(item.get("category")) != container:
            continue
        yield item


class LineItemsOracle:
    """``dashboard_line_items``: the class's line items, in the scope's category if set."""

    def __init__(self, source: OneRosterSource) -> None:
        self.source = source

    def load(self, call: Any) -> Iterator[dict[str, Any]]:
        """Stream line items, keeping the class's (and category's)."""
        context = _context(call)
        with self.source.client(call.timeout) as client:
            for item in _line_items(client, context, call.scope.container):
                yield {
                    "sourcedId": item["sourcedId"],
                    "title": item.get("title"),
                    "assignDate": item.get("assignDate"),
                    "dueDate": item.get("dueDate"),
                    "category": _ref(item.get("category")),
                    "resultValueMin": item.get("resultValueMin"),
                    "resultValueMax": item.get("resultValueMax"),
                }


class ResultsOracle:
    """``dashboard_results``: the results of the class's line items, one record per line
    item (see :func:`group_results`)."""

    def __init__(self, source: OneRosterSource) -> None:
        self.source = source

    def load(self, call: Any) -> list[dict[str, Any]]:
        """Stream results, keep the active ones of the class's (and category's) line items,
        and group them by line item (the class's results are held in memory to group)."""
        context = _context(call)
        with self.source.client(call.timeout) as client:
            items = {i["sourcedId"] for i in _line_items(client, context, call.scope.container)}
            kept = [
                result
                for result in client.iter_records("results")
                if _ref(result.get("lineItem")) in items and result.get("status") == "active"
            ]
        return group_results(kept)
