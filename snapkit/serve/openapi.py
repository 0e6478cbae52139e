"""The OpenAPI 3.1 document of the API (``GET /openapi.json``), written out explicitly.

Every route of :mod:`snapkit.serve.api` and :mod:`snapkit.serve.api_refresh` is described
here with its parameters and every answer it gives; the test suite checks the document is
valid and (with schemathesis) that every answer matches it.
"""

from __future__ import annotations

from typing import Any

from snapkit import __version__

JSON = "application/json"

_NULLABLE_STR = {"type": ["string", "null"]}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "hint"],
                "properties": {
                    "code": {"type": "string", "description": "snake_case, to branch on"},
                    "message": {"type": "string"},
                    "hint": {**_NULLABLE_STR, "description": "what to do"},
                    "exit_code": {
                        "type": "integer",
                        "description": "the CLI's exit code for the same error",
                    },
                    "holder": {"type": "object", "description": "who runs the refresh (409)"},
                },
            },
        },
    },
    "ErrorInfo": {
        "type": "object",
        "required": ["code", "message", "oracle"],
        "properties": {
            "code": {"type": "string"},
            "message": {"type": "string"},
            "oracle": _NULLABLE_STR,
        },
    },
    "Versions": {
        "type": "object",
        "required": ["schema", "calculation"],
        "properties": {"schema": {"type": "string"}, "calculation": {"type": "string"}},
    },
    "Snapshot": {
        "type": "object",
        "description": "A snapshot: status, versions, tables with record counts, oracles.",
        "required": [
            "id",
            "status",
            "created_at",
            "age_seconds",
            "current",
            "scope",
            "versions",
            "tables",
            "record_count",
            "payloads",
            "oracles",
            "errors",
        ],
        "properties": {
            "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "status": {"enum": ["success", "partial", "failed"]},
            "created_at": {"type": "string", "format": "date-time"},
            "age_seconds": {"type": "number"},
            "current": {"type": "boolean", "description": "the current pointer's target"},
            "scope": {
                "type": "object",
                "required": ["id", "namespace", "context", "container"],
                "properties": {
                    "id": {"type": "string"},
                    "namespace": {"type": "string"},
                    "context": _NULLABLE_STR,
                    "container": _NULLABLE_STR,
                },
            },
            "versions": {"$ref": "#/components/schemas/Versions"},
            "tables": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "records", "bytes", "oracle", "key_column"],
                    "properties": {
                        "name": {"type": "string"},
                        "records": {"type": "integer", "minimum": 0},
                        "bytes": {"type": "integer", "minimum": 0},
                        "oracle": {"type": "string"},
                        "key_column": _NULLABLE_STR,
                    },
                },
            },
            "record_count": {"type": "integer", "minimum": 0},
            "payloads": {"type": "array", "items": {"type": "string"}},
            "oracles": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "version", "status", "source", "optional", "error"],
                    "properties": {
                        "key": {"type": "string"},
                        "version": {"type": "string"},
                        "status": {"type": "string"},
                        "source": {"type": "string"},
                        "optional": {"type": "boolean"},
                        "error": {
                            "anyOf": [{"$ref": "#/components/schemas/ErrorInfo"}, {"type": "null"}]
                        },
                    },
                },
            },
            "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ErrorInfo"}},
        },
    },
    "SnapshotList": {
        "type": "object",
        "required": ["snapshots", "current_id", "next_cursor"],
        "properties": {
            "snapshots": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "id",
                        "created_at",
                        "status",
                        "current",
                        "versions",
                        "namespace",
                        "scope_id",
                        "size_bytes",
                        "error_count",
                        "part_count",
                        "record_count",
                    ],
                    "properties": {
                        "id": {"type": "string"},
                        "created_at": {"type": "string"},
                        "status": {"enum": ["success", "partial", "failed"]},
                        "current": {"type": "boolean"},
                        "versions": {"$ref": "#/components/schemas/Versions"},
                        "namespace": {"type": "string"},
                        "scope_id": {"type": "string"},
                        "size_bytes": {"type": "integer"},
                        "error_count": {"type": "integer"},
                        "part_count": {"type": "integer"},
                        "record_count": {"type": "integer"},
                    },
                },
            },
            "current_id": _NULLABLE_STR,
            "next_cursor": {
                **_NULLABLE_STR,
                "description": "pass as cursor to get the next page; null at the end",
            },
        },
    },
    "Diff": {
        "type": "object",
        "description": "The canonical diff JSON (as 'snapkit diff --json' prints it).",
        "required": ["format", "from_id", "to_id", "sections"],
        "properties": {
            "format": {"type": "string"},
            "from_id": {"type": "string"},
            "to_id": {"type": "string"},
            "sections": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "added", "removed", "changed", "data"],
                    "properties": {
                        "name": {"type": "string"},
                        "added": {"type": "integer"},
                        "removed": {"type": "integer"},
                        "changed": {"type": "integer"},
                        "truncated": {"type": "boolean"},
                        "data": {},
                    },
                },
            },
        },
    },
    "SearchResult": {
        "type": "object",
        "required": [
            "snapshot_id",
            "table",
            "query",
            "offset",
            "limit",
            "more",
            "scanned",
            "index",
            "rows",
        ],
        "properties": {
            "snapshot_id": {"type": "string"},
            "table": {"type": "string"},
            "query": {"type": "string"},
            "offset": {"type": "integer"},
            "limit": {"type": ["integer", "null"]},
            "more": {"type": "boolean"},
            "scanned": {"type": "integer"},
            "index": {**_NULLABLE_STR, "description": "the index used, if any"},
            "rows": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Projections": {
        "type": "object",
        "required": ["snapshot_id", "filters", "projections"],
        "properties": {
            "snapshot_id": _NULLABLE_STR,
            "filters": {"type": "object"},
            "projections": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["key", "status", "reason", "value", "oracles", "message"],
                    "properties": {
                        "key": {"type": "string"},
                        "status": {"enum": ["ready", "partial", "unavailable", "failed"]},
                        "reason": _NULLABLE_STR,
                        "value": {},
                        "oracles": {"type": "array", "items": {"type": "string"}},
                        "message": _NULLABLE_STR,
                    },
                },
            },
        },
    },
    "Run": {
        "type": "object",
        "required": [
            "run_id",
            "state",
            "started_at",
            "finished_at",
            "elapsed_s",
            "client",
            "oracles",
            "snapshot_id",
            "pointer_moved",
            "error",
        ],
        "properties": {
            "run_id": {"type": "string"},
            "state": {"enum": ["running", "success", "partial", "failed"]},
            "started_at": {"type": "string"},
            "finished_at": _NULLABLE_STR,
            "elapsed_s": {"type": "number"},
            "client": {"type": "string"},
            "oracles": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "required": ["state", "records", "attempt"],
                    "properties": {
                        "state": {
                            "enum": ["planned", "running", "retrying", "done", "failed", "skipped"]
                        },
                        "records": {"type": "integer"},
                        "attempt": {"type": "integer"},
                    },
                },
            },
            "snapshot_id": _NULLABLE_STR,
            "pointer_moved": {"type": ["boolean", "null"]},
            "error": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["reason", "message"],
                        "properties": {"reason": {"type": "string"}, "message": {"type": "string"}},
                    },
                ]
            },
        },
    },
    "RefreshStatus": {
        "type": "object",
        "required": ["running", "run", "lock", "last_failure"],
        "properties": {
            "running": {"type": "boolean"},
            "run": {"anyOf": [{"$ref": "#/components/schemas/Run"}, {"type": "null"}]},
            "lock": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["holder", "host", "pid", "acquired_at", "heartbeat_at"],
                        "properties": {
                            "holder": {"type": "string"},
                            "host": {"type": "string"},
                            "pid": {"type": "integer"},
                            "acquired_at": {"type": "string"},
                            "heartbeat_at": {"type": "string"},
                        },
                    },
                ]
            },
            "last_failure": {
                "anyOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["snapshot_id", "created_at", "status", "reason", "message"],
                        "properties": {
                            "snapshot_id": {"type": "string"},
                            "created_at": {"type": "string"},
                            "status": {"enum": ["failed", "partial"]},
                            "reason": {"type": "string"},
                            "message": {"type": "string"},
                        },
                    },
                ]
            },
        },
    },
    "RefreshAccepted": {
        "type": "object",
        "required": ["run_id", "status_url", "events_url"],
        "properties": {
            "run_id": {"type": "string"},
            "status_url": {"type": "string"},
            "events_url": {"type": "string"},
        },
    },
}


def _json(schema: str, description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return _json("Error", description, headers)


ETAG = {"ETag": {"description": "the snapshot id, quoted", "schema": {"type": "string"}}}
NOT_MODIFIED = {"description": "If-None-Match named the ETag: nothing changed", "headers": ETAG}
BAD = _error("a malformed reference or parameter")
NO_SNAPSHOT = _error("no snapshot yet (exit code 3 on the CLI)")
NOT_FOUND = _error("no such snapshot, table, projection or profile")
REF_SCHEMA = {
    "type": "string",
    "pattern": r"^(current(~[0-9]{1,4})?|latest|[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"|[0-9a-f]{1,64})$",
}


def _ref(name: str = "ref", where: str = "path", required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": REF_SCHEMA,
        "description": "a snapshot id or unique prefix, current, current~N, latest or a "
        "date YYYY-MM-DD",
    }


def _query(
    name: str,
    schema: dict[str, Any],
    description: str,
    required: bool = False,
    explode: bool | None = None,
) -> dict[str, Any]:
    parameter = {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }
    if explode is not None:
        parameter["explode"] = explode
    return parameter


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "a previous ETag",
}
NAME_SCHEMA = {"type": "string", "pattern": r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"}
FILTERS = _query(
    "filter",
    {"type": "array", "items": {"type": "string", "pattern": "^[^=]+=.*$"}},
    "override a scope filter, key=value (value read as JSON when it parses); repeatable",
)


def _snapshot_read(
    summary: str, answer: dict[str, Any], *extra: dict[str, Any], not_found: bool = True
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": answer, "304": NOT_MODIFIED, "400": BAD, "503": NO_SNAPSHOT}
    if not_found:
        responses["404"] = NOT_FOUND
    return {
        "get": {
            "summary": summary,
            "parameters": [_ref(), *extra, IF_NONE_MATCH],
            "responses": responses,
        }
    }


def document() -> dict[str, Any]:
    """The OpenAPI document of the API."""
    paths: dict[str, Any] = {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "the OpenAPI document",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
        "/api/current": {
            "get": {
                "summary": "The current snapshot (the last successful one)",
                "parameters": [IF_NONE_MATCH],
                "responses": {
                    "200": _json("Snapshot", "the current snapshot", ETAG),
                    "304": NOT_MODIFIED,
                    "503": NO_SNAPSHOT,
                },
            }
        },
        "/api/snapshots": {
            "get": {
                "summary": "List snapshots, newest first (as 'snapkit snapshots list')",
                "parameters": [
                    _query(
                        "status",
                        {"type": "array", "items": {"enum": ["success", "partial", "failed"]}},
                        "only these statuses; repeatable",
                    ),
                    _query(
                        "namespace", {"type": "string", "maxLength": 200}, "only this namespace"
                    ),
                    _query(
                        "since",
                        {"type": "string", "format": "date-time"},
                        "created at or after (ISO date or time, UTC)",
                    ),
                    _query(
                        "until",
                        {"type": "string", "format": "date-time"},
                        "created before (ISO date or time, UTC)",
                    ),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
                        "page size",
                    ),
                    _query(
                        "cursor",
                        {"type": "string", "maxLength": 200},
                        "next_cursor of the previous page",
                    ),
                ],
                "responses": {"200": _json("SnapshotList", "one page of snapshots"), "400": BAD},
            }
        },
        "/api/snapshots/{ref}": _snapshot_read(
            "One snapshot", _json("Snapshot", "the snapshot", ETAG)
        ),
        "/api/snapshots/{ref}/tables/{table}/records": _snapshot_read(
            "A table's records, streamed as NDJSON (one canonical JSON record a line)",
            {
                "description": "the records from offset, at most limit",
                "headers": {
                    **ETAG,
                    "X-Total-Count": {
                        "description": "records in the table",
                        "schema": {"type": "string"},
                    },
                },
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            {"name": "table", "in": "path", "required": True, "schema": NAME_SCHEMA},
            _query(
                "offset", {"type": "integer", "minimum": 0, "default": 0}, "skip this many records"
            ),
            _query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": 100000, "default": 1000},
                "at most this many records",
            ),
        ),
        "/api/snapshots/{ref}/projections": _snapshot_read(
            "Derive projections from a snapshot, with their statuses (as 'snapkit project')",
            _json("Projections", "each projection's status, reason and value", ETAG),
            _query(
                "projection",
                {"type": "array", "items": NAME_SCHEMA},
                "only this projection; repeatable",
            ),
            FILTERS,
        ),
        "/api/snapshots/{ref}/export": _snapshot_read(
            "Export a snapshot as a ZIP of the profile's datasets (as 'snapkit export')",
            {
                "description": "the ZIP",
                "headers": {
                    **ETAG,
                    "X-Export-Status": {
                        "description": "complete or partial",
                        "schema": {"type": "string"},
                    },
                },
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            },
            _query("profile", NAME_SCHEMA, "the export profile", required=True),
            FILTERS,
        ),
        "/api/diff": {
            "get": {
                "summary": "What changed between two snapshots: the canonical diff JSON, streamed",
                "parameters": [
                    _ref("from", "query"),
                    _ref("to", "query"),
                    _query(
                        "section",
                        {"type": "array", "items": NAME_SCHEMA},
                        "only this section; repeatable",
                    ),
                    _query(
                        "max_items",
                        {"type": "integer", "minimum": 0},
                        "list at most this many items per list of changes",
                    ),
                    IF_NONE_MATCH,
                ],
                "responses": {
                    "200": _json(
                        "Diff",
                        "the diff (B - A)",
                        {
                            "ETag": {
                                "description": "FROM_ID..TO_ID, quoted",
                                "schema": {"type": "string"},
                            }
                        },
                    ),
                    "304": NOT_MODIFIED,
                    "400": BAD,
                    "404": NOT_FOUND,
                    "503": NO_SNAPSHOT,
                },
            }
        },
        "/api/search": {
            "get": {
                "summary": "Find rows of a table or search view (as 'snapkit search')",
                "parameters": [
                    _query(
                        "table",
                        NAME_SCHEMA,
                        "a table of the snapshot or a search view, e.g. guardians",
                        required=True,
                    ),
                    _query(
                        "q",
                        {"type": "string", "minLength": 1, "maxLength": 1000},
                        "field=value, field^=value, field~value or value; all must match",
                        required=True,
                    ),
                    _ref("snapshot", "query", required=False),
                    _query(
                        "offset",
                        {"type": "integer", "minimum": 0, "default": 0},
                        "skip this many matching rows",
                    ),
                    _query(
                        "limit",
                        {"type": "integer", "minimum": 1, "maximum": 1000, "default": 20},
                        "at most this many rows",
                    ),
                    _query(
                        "ignore_case",
                        {"type": "boolean", "default": False},
                        "compare case-insensitively",
                    ),
                    _query(
                        "index",
                        {"type": "boolean", "default": True},
                        "use an index when one covers the query",
                    ),
                    IF_NONE_MATCH,
                ],
                "responses": {
                    "200": _json("SearchResult", "the matching rows", ETAG),
                    "304": NOT_MODIFIED,
                    "400": BAD,
                    "404": NOT_FOUND,
                    "503": NO_SNAPSHOT,
                },
            }
        },
        "/api/refresh": {
            "get": {
                "summary": "Refresh status: running or not, holder, progress, last failure",
                "responses": {"200": _json("RefreshStatus", "the refresh status")},
            }
        },
        "/api/admin/refresh": {
            "post": {
                "summary": "Start a refresh (admin: bearer token)",
                "security": [{"bearerAuth": []}],
                "responses": {
                    "202": _json(
                        "RefreshAccepted",
                        "the refresh started",
                        {
                            "Location": {
                                "description": "the run's status URL",
                                "schema": {"type": "string"},
                            }
                        },
                    ),
                    "401": _error("no token"),
                    "403": _error("a wrong token"),
                    "409": _error("a refresh is already running (error.holder says who)"),
                    "429": _error(
                        "rate limited",
                        {
                            "Retry-After": {
                                "description": "seconds to wait",
                                "schema": {"type": "string"},
                            }
                        },
                    ),
                    "503": _error("admin refresh is disabled: no token is configured"),
                },
            }
        },
        "/api/refresh/runs/{run_id}": {
            "get": {
                "summary": "A refresh run's progress",
                "parameters": [
                    {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json("Run", "the run"),
                    "404": _error("no run with this id on this server"),
                },
            }
        },
        "/api/refresh/runs/{run_id}/events": {
            "get": {
                "summary": "A refresh run's progress as server-sent events: 'progress' with the "
                "run on every change (at most ten a second), then 'done' with the run "
                "when it ends",
                "parameters": [
                    {"name": "run_id", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {
                        "description": "the event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "404": _error("no run with this id on this server"),
                },
            }
        },
        "/api/dashboard/{class_id}/events": {
            "get": {
                "summary": "The live dashboard of a class as server-sent events: 'session', "
                "'loading', 'oracle' and 'tile' as the oracle results arrive (from "
                "the cache or freshly loaded; never a stale request's), then "
                "'complete' or 'timeout'; the stream stays open until closed. It "
                "hydrates from the oracles and never writes the store (see "
                "docs/serve.md, 'The live dashboard')",
                "parameters": [
                    {
                        "name": "class_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "a class: the context of a committed snapshot",
                    },
                    _query(
                        "page",
                        {"type": "string", "pattern": "^[A-Za-z0-9_-]{8,64}$"},
                        "the page's coordinator session (one per page load)",
                    ),
                    _query(
                        "seq",
                        {"type": "string", "pattern": "^[0-9]{1,15}$"},
                        "the page's switch counter: an older switch than one seen is 204",
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "the event stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "204": {"description": "overtaken by a later switch of the page"},
                    "400": _error("a malformed page or seq"),
                    "404": _error("no class with this id in the store"),
                    "503": _error(
                        "the server keeps as many live sessions as it can, "
                        "or the store cannot be read"
                    ),
                },
            }
        },
    }
    paths["/api/snapshots/{ref}/export"]["get"]["responses"]["422"] = _error(
        "a fail_closed dataset could not be built (error.code is its reason)"
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "snapkit",
            "version": __version__,
            "description": "The read API and the admin refresh of 'snapkit serve'. "
            "Reads never fetch: they answer from the store.",
        },
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
