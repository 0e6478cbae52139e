"""What the OneRoster 1.1 REST API answers, apart from HTTP itself.

:func:`answer` takes the path segments after ``/ims/oneroster/v1p1/`` and the query
parameters, and returns the JSON body and headers (``X-Total-Count``, ``Link``), or raises
:class:`ApiError`, which the server sends as an ``imsx`` error body.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import attrs

from snapkit_oneroster.district import District
from snapkit_oneroster.filters import Filter, FilterSyntaxError, parse_filter
from snapkit_oneroster.schema import COLLECTIONS, TABLES, Collection
from snapkit_oneroster.server_state import ServerState

API_PREFIX = "/ims/oneroster/v1p1"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


class ApiError(Exception):
    """An error answered with an ``imsx`` body."""

    def __init__(self, status: HTTPStatus, code_minor: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code_minor = code_minor
        self.description = description


def imsx_body(code_minor: str, description: str) -> dict[str, Any]:
    """The OneRoster 1.1 ``imsx_StatusInfo`` error body."""
    return {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }


def _in_collection(district: District, collection: Collection, sourced_id: str) -> bool:
    t = collection.table
    if collection.role:
        return bool(district.value(t, sourced_id, "role") in collection.role)
    if collection.org_type:
        return bool(district.value(t, sourced_id, "type") == collection.org_type)
    if collection.session_type:
        return bool(district.value(t, sourced_id, "type") == collection.session_type)
    return True


def _enrolled(district: District, field: str, value: str, role: str | None, want: str) -> list[str]:
    """Enrollments where ``field`` is ``value`` (and the role is ``role``): their ``want`` ids."""
    out = set()
    for e in district.ids("enrollments"):
        if district.value("enrollments", e, field) != value:
            continue
        if role is None or district.value("enrollments", e, "role") == role:
            out.add(district.value("enrollments", e, want))
    return sorted(out)


def _users_of_school(district: District, school: str, role: str) -> list[str]:
    return [
        u
        for u in district.ids("users")
        if district.value("users", u, "role") == role
        and school in district.value("users", u, "orgs")
    ]


def _where(district: District, table: str, field: str, value: str) -> list[str]:
    return [i for i in district.ids(table) if district.value(table, i, field) == value]


NESTED: dict[tuple[str, str], tuple[str, str, Callable[[District, str], list[str]]]] = {
    ("classes", "students"): (
        "classes",
        "users",
        lambda d, c: _enrolled(d, "class", c, "student", "user"),
    ),
    ("classes", "teachers"): (
        "classes",
        "users",
        lambda d, c: _enrolled(d, "class", c, "teacher", "user"),
    ),
    ("classes", "lineItems"): (
        "classes",
        "lineItems",
        lambda d, c: _where(d, "lineItems", "class", c),
    ),
    ("lineItems", "results"): (
        "lineItems",
        "results",
        lambda d, i: _where(d, "results", "lineItem", i),
    ),
    ("schools", "classes"): ("orgs", "classes", lambda d, s: _where(d, "classes", "school", s)),
    ("schools", "students"): ("orgs", "users", lambda d, s: _users_of_school(d, s, "student")),
    ("schools", "teachers"): ("orgs", "users", lambda d, s: _users_of_school(d, s, "teacher")),
    ("users", "classes"): ("users", "classes", lambda d, u: _enrolled(d, "user", u, None, "class")),
    ("students", "classes"): (
        "users",
        "classes",
        lambda d, u: _enrolled(d, "user", u, None, "class"),
    ),
    ("teachers", "classes"): (
        "users",
        "classes",
        lambda d, u: _enrolled(d, "user", u, None, "class"),
    ),
}
"""Nested collections: (parent collection, child) -> (parent table, child table, ids)."""


def _sort_key(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("sourcedId", ""))
    if isinstance(value, list):
        return ",".join(_sort_key(v) for v in value)
    return str(value)


class _Query:
    """The paging, sorting, filtering and projection parameters of a list request."""

    def __init__(self, params: dict[str, list[str]], field_names: frozenset[str], max_limit: int):
        def one(name: str) -> str | None:
            values = params.get(name)
            return values[-1] if values else None

        self.limit = _int_param(one("limit"), "limit", DEFAULT_LIMIT, minimum=1)
        self.limit = min(self.limit, max_limit)
        self.offset = _int_param(one("offset"), "offset", 0, minimum=0)
        self.sort = one("sort")
        if self.sort is not None and self.sort not in field_names:
            raise ApiError(
                HTTPStatus.BAD_REQUEST, "invalid_sort_field", f"sort: unknown field {self.sort}"
            )
        order = (one("orderBy") or "asc").lower()
        if order not in ("asc", "desc"):
            raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_data", "orderBy must be asc or desc")
        self.descending = order == "desc"
        self.filter_text = one("filter")
        self.filter: Filter | None = None
        if self.filter_text:
            try:
                self.filter = parse_filter(self.filter_text, field_names)
            except FilterSyntaxError as exc:
                raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_filter_field", str(exc)) from None
        fields = one("fields")
        self.fields: frozenset[str] | None = None
        if fields:
            self.fields = frozenset(f.strip() for f in fields.split(",") if f.strip())
            unknown = sorted(self.fields - field_names)
            if unknown:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "invalid_selection_field",
                    f"fields: unknown field(s) {', '.join(unknown)}",
                )


def _int_param(text: str | None, name: str, default: int, *, minimum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "invalid_data", f"{name} must be an integer"
        ) from None
    if value < minimum:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_data", f"{name} must be >= {minimum}")
    return value


@attrs.frozen
class Answer:
    """A successful API answer: the JSON body and the headers to send with it."""

    body: dict[str, Any]
    headers: dict[str, str]


def answer(
    state: ServerState,
    segments: list[str],
    params: dict[str, list[str]],
    *,
    origin: str,
    path: str,
) -> Answer:
    """Answer one GET under the API root.

    :param segments: the path segments after ``/ims/oneroster/v1p1/``, unquoted.
    :param params: the query parameters.
    :param origin: ``http://host:port`` as the client addressed the server (for ``href``).
    :param path: the request path, for ``Link`` headers.
    :raises ApiError: for an unknown endpoint or record, or bad parameters.
    """
    district = state.district
    base_url = origin + API_PREFIX
    if not segments or segments[0] not in COLLECTIONS:
        raise ApiError(
            HTTPStatus.NOT_FOUND, "unknownobject", f"unknown collection /{'/'.join(segments[:1])}"
        )
    collection = COLLECTIONS[segments[0]]
    if len(segments) == 1:
        listing = _Listing(collection.name, collection.table, collection, None)
        return listing.answer(state, params, base_url, origin + path)
    if len(segments) == 2:
        _require(state, collection.table, collection, segments)
        query = _Query(params, frozenset(TABLES[collection.table].field_names), state.max_limit)
        with state.lock:
            record = district.record(collection.table, segments[1], base_url) or {}
        if query.fields is not None:
            record = {k: v for k, v in record.items() if k in query.fields}
        return Answer({TABLES[collection.table].one: record}, {})
    if len(segments) == 3 and (segments[0], segments[2]) in NESTED:
        parent_table, child_table, finder = NESTED[(segments[0], segments[2])]
        _require(state, parent_table, collection, segments)
        child = COLLECTIONS.get(segments[2]) or COLLECTIONS[child_table]
        listing = _Listing("/".join(segments), child_table, child, (finder, segments[1]))
        return listing.answer(state, params, base_url, origin + path)
    raise ApiError(HTTPStatus.NOT_FOUND, "unknownobject", f"unknown endpoint /{'/'.join(segments)}")


def _require(state: ServerState, table: str, collection: Collection, segments: list[str]) -> None:
    with state.lock:
        known = state.district.row(table, segments[1]) is not None
        if not known or not _in_collection(state.district, collection, segments[1]):
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "unknownobject",
                f"no {segments[0]} record with that sourcedId",
            )


@attrs.frozen
class _Listing:
    """One list endpoint: which table, which collection, and the nested finder if any."""

    key: str
    table: str
    collection: Collection
    nested: tuple[Callable[[District, str], list[str]], str] | None

    def answer(
        self, state: ServerState, params: dict[str, list[str]], base_url: str, url: str
    ) -> Answer:
        t = TABLES[self.table]
        query = _Query(params, frozenset(t.field_names), state.max_limit)
        cap = state.faults.faults.role_filter_cap
        key = (self.key, query.filter_text, query.sort, query.descending, cap)
        ids = state.cached(key, lambda: self._ids(state, query, base_url, cap))
        page_ids = ids[query.offset : query.offset + query.limit]
        with state.lock:
            records = [state.district.record(self.table, i, base_url) or {} for i in page_ids]
        if query.fields is not None:
            fields = query.fields
            records = [{k: v for k, v in r.items() if k in fields} for r in records]
        headers = {"X-Total-Count": str(len(ids)), "Link": _links(url, len(ids), query, params)}
        return Answer({t.many: records}, headers)

    def _ids(self, state: ServerState, query: _Query, base_url: str, cap: int | None) -> list[str]:
        district = state.district
        with state.lock:
            if self.nested is not None:
                finder, parent = self.nested
                candidates = finder(district, parent)
            else:
                candidates = district.ids(self.table)
            ids = [i for i in candidates if _in_collection(district, self.collection, i)]
            by_field = query.sort is not None and query.sort != "sourcedId"
            if query.filter is not None or by_field:
                pairs = [(i, district.record(self.table, i, base_url) or {}) for i in ids]
                if query.filter is not None:
                    matches = query.filter.matches
                    pairs = [(i, r) for i, r in pairs if matches(r)]
                if by_field:
                    field = query.sort or ""
                    pairs.sort(key=lambda pair: _sort_key(pair[1].get(field)))
                ids = [i for i, _ in pairs]
        if query.descending:
            ids = ids[::-1]
        by_role = bool(self.collection.role) or (
            query.filter is not None and "role" in query.filter.fields
        )
        if cap is not None and by_role:
            ids = ids[:cap]
        return ids


def _links(url: str, total: int, query: _Query, params: dict[str, list[str]]) -> str:
    """The RFC 5988 ``Link`` header: first, last, and next/prev when there are such pages."""

    def at(offset: int) -> str:
        kept = [(k, v) for k, vs in params.items() if k not in ("limit", "offset") for v in vs]
        qs = urllib.parse.urlencode([*kept, ("limit", str(query.limit)), ("offset", str(offset))])
        return f"<{url}?{qs}>"

    last = max(0, (total - 1) // query.limit * query.limit)
    links = [f'{at(0)}; rel="first"', f'{at(last)}; rel="last"']
    if query.offset + query.limit < total:
        links.append(f'{at(query.offset + query.limit)}; rel="next"')
    if query.offset > 0:
        links.append(f'{at(max(0, query.offset - query.limit))}; rel="prev"')
    return ", ".join(links)
