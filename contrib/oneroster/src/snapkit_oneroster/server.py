"""A local OneRoster 1.1 REST server over a synthetic :class:`~snapkit_oneroster.district.District`.

Start one with :func:`serve`; it listens on loopback in a background thread::

    with serve(users=5_000, seed=1) as server:
        server.base_url      # http://127.0.0.1:PORT/ims/oneroster/v1p1
        server.token_url     # http://127.0.0.1:PORT/token
        server.client_id, server.client_secret

What it serves, under ``/ims/oneroster/v1p1/``: every collection of
:data:`~snapkit_oneroster.schema.COLLECTIONS`, single records (``/users/{id}``) and a few
nested collections (``/classes/{id}/students``, ...), with ``limit``/``offset`` paging,
``sort``/``orderBy``, ``filter``, ``fields``, ``X-Total-Count`` and RFC 5988 ``Link``
headers, and ``imsx_*`` error bodies. Authentication is checked for real: OAuth 2.0 client
credentials (``POST /token``) and OAuth 1.0a HMAC-SHA256/HMAC-SHA1 signatures.

Admin endpoints (no authentication; the server is for loopback use): ``GET /__admin/state``,
``POST /__admin/faults`` (a JSON :class:`~snapkit_oneroster.faults.Faults`, replacing the
current one), ``POST /__admin/advance`` (``{"days": n}``), ``GET /__admin/bulk.zip`` (the
district as a OneRoster 1.1 CSV bulk export).
"""

from __future__ import annotations

import base64
import collections
import hmac
import io
import json
import logging
import secrets
import threading
import time
import urllib.parse
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from snapkit_oneroster.auth import (
    OAUTH1_METHODS,
    parse_authorization_header,
    sign,
    signature_base_string,
)
from snapkit_oneroster.bulk_csv import write_bulk_zip
from snapkit_oneroster.district import DayChange, District
from snapkit_oneroster.faults import FaultCounter, Faults
from snapkit_oneroster.filters import Filter, FilterSyntaxError, parse_filter
from snapkit_oneroster.schema import COLLECTIONS, TABLES, Collection

log = logging.getLogger(__name__)

API_PREFIX = "/ims/oneroster/v1p1"
TOKEN_PATH = "/token"
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
OAUTH1_WINDOW_SECONDS = 300
AUTH_MODES = ("oauth2", "oauth1", "both")
_ACCEPTS = {
    "oauth2": "OAuth 2.0 bearer tokens",
    "oauth1": "OAuth 1.0a signatures",
    "both": "OAuth 2.0 bearer tokens or OAuth 1.0a signatures",
}


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


# --------------------------------------------------------------------------- state


class ServerState:
    """Everything a running server knows: the district, credentials, tokens, faults."""

    def __init__(
        self,
        district: District,
        *,
        auth: str,
        client_id: str,
        client_secret: str,
        faults: Faults,
        token_ttl: float,
        max_limit: int,
    ) -> None:
        if auth not in AUTH_MODES:
            raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}, got {auth!r}")
        self.district = district
        self.auth = auth
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.max_limit = max_limit
        self.faults = FaultCounter(faults)
        self.lock = threading.RLock()
        self.api_requests = 0
        self._tokens: dict[str, float] = {}
        self._nonces: dict[tuple[str, str], float] = {}
        self._cache: collections.OrderedDict[tuple[Any, ...], list[str]] = collections.OrderedDict()

    # ---- credentials

    def credentials_match(self, client_id: str, client_secret: str) -> bool:
        """Constant-time check of a client id and secret."""
        ok_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        ok_secret = hmac.compare_digest(client_secret.encode(), self.client_secret.encode())
        return ok_id and ok_secret

    def issue_token(self) -> str:
        """A new bearer token, valid for ``token_ttl`` seconds."""
        token = secrets.token_urlsafe(32)
        with self.lock:
            now = time.monotonic()
            self._tokens = {t: exp for t, exp in self._tokens.items() if exp > now}
            self._tokens[token] = now + self.token_ttl
        return token

    def bearer_valid(self, token: str) -> bool:
        """Whether a bearer token was issued here and has not expired."""
        with self.lock:
            expires = self._tokens.get(token)
        return expires is not None and expires > time.monotonic()

    def check_oauth1(
        self, method: str, url: str, header: str, query: list[tuple[str, str]]
    ) -> str | None:
        """Verify an OAuth 1.0a signed request; the reason it fails, or ``None``."""
        try:
            oauth = parse_authorization_header(header)
        except ValueError:
            return "the Authorization header is not an OAuth 1.0a header"
        required = (
            "oauth_consumer_key",
            "oauth_signature_method",
            "oauth_timestamp",
            "oauth_nonce",
            "oauth_signature",
        )
        missing = [p for p in required if p not in oauth]
        if missing:
            return f"the OAuth 1.0a header lacks {', '.join(missing)}"
        if oauth.get("oauth_version", "1.0") != "1.0":
            return "oauth_version must be 1.0"
        method_name = oauth["oauth_signature_method"]
        if method_name not in OAUTH1_METHODS:
            return f"oauth_signature_method must be one of {', '.join(OAUTH1_METHODS)}"
        if not hmac.compare_digest(oauth["oauth_consumer_key"].encode(), self.client_id.encode()):
            return "unknown oauth_consumer_key"
        try:
            stamp = int(oauth["oauth_timestamp"])
        except ValueError:
            return "oauth_timestamp is not an integer"
        now = time.time()
        if abs(now - stamp) > OAUTH1_WINDOW_SECONDS:
            return f"oauth_timestamp is more than {OAUTH1_WINDOW_SECONDS} s from the server's clock"
        params = query + [(k, v) for k, v in oauth.items() if k.startswith("oauth_")]
        base = signature_base_string(method, url, params)
        expected = sign(base, self.client_secret, method=method_name)
        if not hmac.compare_digest(expected.encode(), oauth["oauth_signature"].encode()):
            return "the OAuth 1.0a signature does not match"
        key = (oauth["oauth_nonce"], oauth["oauth_timestamp"])
        with self.lock:
            self._nonces = {
                k: t for k, t in self._nonces.items() if t > now - 2 * OAUTH1_WINDOW_SECONDS
            }
            if key in self._nonces:
                return "oauth_nonce was already used"
            self._nonces[key] = now
        return None

    # ---- district

    def advance(self, days: int = 1) -> list[DayChange]:
        """Advance the district ``days`` days."""
        with self.lock:
            changes = [self.district.advance_day() for _ in range(days)]
            self._cache.clear()
            return changes

    def cached(self, key: tuple[Any, ...], compute: Callable[[], list[str]]) -> list[str]:
        """A list of sourcedIds for a query, computed once per district version."""
        key = (*key, self.district.version)
        with self.lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        ids = compute()
        with self.lock:
            self._cache[key] = ids
            while len(self._cache) > 64:
                self._cache.popitem(last=False)
        return ids


# --------------------------------------------------------------------------- queries


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


# --------------------------------------------------------------------------- HTTP


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    # ---- plumbing

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    @property
    def state(self) -> ServerState:
        return self.server.state

    def _send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        truncate: bool = False,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[: len(body) // 2] if truncate else body)
        self.wfile.flush()

    def _json(self, status: int, value: Any, **kwargs: Any) -> None:
        self._send(status, json.dumps(value, separators=(",", ":")).encode(), **kwargs)

    def _error(self, err: ApiError, headers: dict[str, str] | None = None) -> None:
        self._json(err.status, imsx_body(err.code_minor, err.description), headers=headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _split(self) -> tuple[str, list[tuple[str, str]]]:
        parts = urllib.parse.urlsplit(self.path)
        return parts.path, urllib.parse.parse_qsl(parts.query, keep_blank_values=True)

    @property
    def _origin(self) -> str:
        host = self.headers.get("Host")
        return f"http://{host}" if host else self.server.origin

    # ---- verbs

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, verb: str) -> None:
        path, query = self._split()
        try:
            if path.startswith(API_PREFIX + "/") and verb == "GET":
                self._api(path[len(API_PREFIX) + 1 :], query)
            elif path == TOKEN_PATH and verb == "POST":
                self._token()
            elif path.startswith("/__admin/"):
                self._admin(verb, path[len("/__admin/") :])
            else:
                raise ApiError(HTTPStatus.NOT_FOUND, "unknownobject", f"no endpoint {verb} {path}")
        except ApiError as err:
            self._error(err)
        except Exception:
            log.exception("internal error answering %s %s", verb, path)
            self._error(
                ApiError(
                    HTTPStatus.INTERNAL_SERVER_ERROR, "internal_server_error", "internal error"
                )
            )

    # ---- token endpoint

    def _token(self) -> None:
        if self.state.auth == "oauth1":
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "unknownobject",
                "this server uses OAuth 1.0a; no token endpoint",
            )
        form = dict(urllib.parse.parse_qsl(self._body().decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        header = self.headers.get("Authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:].strip()).decode()
            except ValueError:
                decoded = ""
            client_id, _, client_secret = decoded.partition(":")
            client_id, client_secret = (
                urllib.parse.unquote(client_id),
                urllib.parse.unquote(client_secret),
            )
        if form.get("grant_type") != "client_credentials":
            self._json(
                400,
                {
                    "error": "unsupported_grant_type",
                    **imsx_body("invalid_data", "grant_type must be client_credentials"),
                },
            )
            return
        if not self.state.credentials_match(client_id, client_secret):
            body = {
                "error": "invalid_client",
                **imsx_body("unauthorisedrequest", "invalid client credentials"),
            }
            self._json(401, body, headers={"WWW-Authenticate": 'Basic realm="oneroster"'})
            return
        token = self.state.issue_token()
        self._json(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": int(self.state.token_ttl),
            },
            headers={"Cache-Control": "no-store"},
        )

    # ---- API

    def _authenticate(self, query: list[tuple[str, str]]) -> None:
        header = self.headers.get("Authorization", "")
        scheme = header.split(" ", 1)[0].lower()
        mode = self.state.auth
        reason = "the request has no Authorization header"
        if scheme == "bearer" and mode in ("oauth2", "both"):
            if self.state.bearer_valid(header.split(" ", 1)[1].strip() if " " in header else ""):
                return
            reason = "the bearer token is unknown or expired"
        elif scheme == "oauth" and mode in ("oauth1", "both"):
            url = self._origin + urllib.parse.urlsplit(self.path).path
            failure = self.state.check_oauth1(self.command, url, header, query)
            if failure is None:
                return
            reason = failure
        elif header:
            reason = f"the server accepts {_ACCEPTS[mode]}"
        challenge = 'Bearer realm="oneroster"' if mode != "oauth1" else 'OAuth realm="oneroster"'
        self._error(
            ApiError(HTTPStatus.UNAUTHORIZED, "unauthorisedrequest", reason),
            {"WWW-Authenticate": challenge},
        )
        raise _Answered

    def _api(self, rest: str, query: list[tuple[str, str]]) -> None:
        try:
            self._authenticate(query)
        except _Answered:
            return
        state = self.state
        with state.lock:
            state.api_requests += 1
        counter = state.faults
        faults = counter.faults
        if faults.delay:
            time.sleep(faults.delay)
        if counter.take("rate_limit"):
            err = ApiError(
                HTTPStatus.TOO_MANY_REQUESTS, "server_busy", "too many requests; retry later"
            )
            self._error(err, {"Retry-After": str(faults.retry_after)})
            return
        if faults.server_errors_always or counter.take("server_errors"):
            raise ApiError(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal_server_error", "injected server error"
            )
        segments = [urllib.parse.unquote(s) for s in rest.split("/") if s]
        params: dict[str, list[str]] = {}
        for k, v in query:
            params.setdefault(k, []).append(v)
        body, headers = self._resolve(segments, params)
        truncate = faults.truncate_always or counter.take("truncate")
        if faults.omit_total_count:
            headers.pop("X-Total-Count", None)
        self._json(200, body, headers=headers, truncate=truncate)

    def _resolve(
        self, segments: list[str], params: dict[str, list[str]]
    ) -> tuple[Any, dict[str, str]]:
        district = self.state.district
        base_url = self._origin + API_PREFIX
        if not segments or segments[0] not in COLLECTIONS:
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "unknownobject",
                f"unknown collection /{'/'.join(segments[:1])}",
            )
        collection = COLLECTIONS[segments[0]]
        if len(segments) == 2:
            with self.state.lock:
                if district.row(collection.table, segments[1]) is None or not _in_collection(
                    district, collection, segments[1]
                ):
                    raise ApiError(
                        HTTPStatus.NOT_FOUND,
                        "unknownobject",
                        f"no {segments[0]} record with that sourcedId",
                    )
                record = district.record(collection.table, segments[1], base_url)
            query = _Query(
                params, frozenset(TABLES[collection.table].field_names), self.state.max_limit
            )
            if query.fields is not None:
                record = {k: v for k, v in (record or {}).items() if k in query.fields}
            return {TABLES[collection.table].one: record}, {}
        if len(segments) == 1:
            return self._list(collection.name, collection.table, None, collection, params, base_url)
        if len(segments) == 3 and (segments[0], segments[2]) in NESTED:
            parent_table, child_table, finder = NESTED[(segments[0], segments[2])]
            with self.state.lock:
                if district.row(parent_table, segments[1]) is None or not _in_collection(
                    district, collection, segments[1]
                ):
                    raise ApiError(
                        HTTPStatus.NOT_FOUND,
                        "unknownobject",
                        f"no {segments[0]} record with that sourcedId",
                    )
            child = COLLECTIONS.get(segments[2]) or COLLECTIONS[child_table]
            return self._list(
                "/".join(segments), child_table, (finder, segments[1]), child, params, base_url
            )
        raise ApiError(
            HTTPStatus.NOT_FOUND, "unknownobject", f"unknown endpoint /{'/'.join(segments)}"
        )

    def _list(
        self,
        path: str,
        table: str,
        nested: tuple[Callable[[District, str], list[str]], str] | None,
        collection: Collection,
        params: dict[str, list[str]],
        base_url: str,
    ) -> tuple[Any, dict[str, str]]:
        state = self.state
        district = state.district
        t = TABLES[table]
        query = _Query(params, frozenset(t.field_names), state.max_limit)

        def compute() -> list[str]:
            with state.lock:
                if nested is not None:
                    finder, parent = nested
                    ids = [
                        i
                        for i in finder(district, parent)
                        if _in_collection(district, collection, i)
                    ]
                else:
                    ids = [
                        i for i in district.ids(table) if _in_collection(district, collection, i)
                    ]
                if query.filter is not None or (query.sort and query.sort != "sourcedId"):
                    records = [(i, district.record(table, i, base_url) or {}) for i in ids]
                    if query.filter is not None:
                        records = [(i, r) for i, r in records if query.filter.matches(r)]
                    if query.sort and query.sort != "sourcedId":
                        records.sort(key=lambda pair: _sort_key(pair[1].get(query.sort or "")))
                    ids = [i for i, _ in records]
            if query.descending:
                ids = ids[::-1]
            cap = state.faults.faults.role_filter_cap
            by_role = bool(collection.role) or (
                query.filter is not None and "role" in query.filter.fields
            )
            if cap is not None and by_role:
                ids = ids[:cap]
            return ids

        key = (
            path,
            query.filter_text,
            query.sort,
            query.descending,
            state.faults.faults.role_filter_cap,
        )
        ids = state.cached(key, compute)
        page_ids = ids[query.offset : query.offset + query.limit]
        with state.lock:
            records = [district.record(table, i, base_url) or {} for i in page_ids]
        if query.fields is not None:
            fields = query.fields
            records = [{k: v for k, v in r.items() if k in fields} for r in records]
        headers = {"X-Total-Count": str(len(ids))}
        links = self._links(len(ids), query, params)
        if links:
            headers["Link"] = links
        return {t.many: records}, headers

    def _links(self, total: int, query: _Query, params: dict[str, list[str]]) -> str:
        path = urllib.parse.urlsplit(self.path).path

        def url(offset: int) -> str:
            kept = [(k, v) for k, vs in params.items() if k not in ("limit", "offset") for v in vs]
            qs = urllib.parse.urlencode(
                [*kept, ("limit", str(query.limit)), ("offset", str(offset))]
            )
            return f"<{self._origin}{path}?{qs}>"

        last = max(0, (total - 1) // query.limit * query.limit)
        links = [f'{url(0)}; rel="first"', f'{url(last)}; rel="last"']
        if query.offset + query.limit < total:
            links.append(f'{url(query.offset + query.limit)}; rel="next"')
        if query.offset > 0:
            links.append(f'{url(max(0, query.offset - query.limit))}; rel="prev"')
        return ", ".join(links)

    # ---- admin

    def _admin(self, verb: str, what: str) -> None:
        state = self.state
        if verb == "GET" and what == "state":
            self._json(200, _state_json(state))
        elif verb == "POST" and what == "faults":
            try:
                data = json.loads(self._body() or b"{}")
                if not isinstance(data, dict):
                    raise ValueError("the body must be a JSON object")
                state.faults.reset(Faults.from_json(data))
            except ValueError as exc:
                raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_data", f"faults: {exc}") from None
            with state.lock:
                state._cache.clear()
            self._json(200, _state_json(state))
        elif verb == "POST" and what == "advance":
            try:
                data = json.loads(self._body() or b"{}")
                days = int(data.get("days", 1))
                if days < 1:
                    raise ValueError
            except (ValueError, AttributeError, TypeError):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "invalid_data",
                    'advance: body must be {"days": n}, n >= 1',
                ) from None
            changes = state.advance(days)
            self._json(
                200, {"changes": [_change_json(c) for c in changes], "state": _state_json(state)}
            )
        elif verb == "GET" and what == "bulk.zip":
            buffer = io.BytesIO()
            with state.lock:
                write_bulk_zip(state.district.tables(), buffer)
            self._send(
                200,
                buffer.getvalue(),
                content_type="application/zip",
                headers={"Content-Disposition": 'attachment; filename="oneroster-bulk.zip"'},
            )
        else:
            raise ApiError(
                HTTPStatus.NOT_FOUND, "unknownobject", f"no admin endpoint {verb} /__admin/{what}"
            )


class _Answered(Exception):
    """The handler already sent a response."""


def _state_json(state: ServerState) -> dict[str, Any]:
    d = state.district
    return {
        "seed": d.seed,
        "users": d.users,
        "day": d.day,
        "date": d.today.isoformat(),
        "counts": {name: d.count(name) for name in TABLES},
        "auth": state.auth,
        "faults": state.faults.faults.to_json(),
        "faults_remaining": state.faults.remaining(),
        "api_requests": state.api_requests,
    }


def _change_json(change: DayChange) -> dict[str, Any]:
    return {
        "day": change.day,
        "date": change.date,
        "counts": {
            name: len(getattr(change, name))
            for name in (
                "students_added",
                "students_withdrawn",
                "guardians_added",
                "emails_changed",
                "line_items_added",
                "results_added",
                "results_updated",
            )
        },
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        super().__init__(address, _Handler)
        self.state = state
        self.origin = f"http://{address[0]}:{self.server_port}"


# --------------------------------------------------------------------------- handle


class ServerHandle:
    """A running server: its address, credentials, and controls.

    :ivar url: the server's root, e.g. ``http://127.0.0.1:54321``.
    :ivar state: the server's :class:`ServerState` (district, faults, counters).
    """

    def __init__(self, server: _Server, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.url = server.origin
        self.state = server.state

    @property
    def base_url(self) -> str:
        """The OneRoster API root, ``{url}/ims/oneroster/v1p1``."""
        return self.url + API_PREFIX

    @property
    def token_url(self) -> str:
        """The OAuth 2.0 token endpoint."""
        return self.url + TOKEN_PATH

    @property
    def client_id(self) -> str:
        return self.state.client_id

    @property
    def client_secret(self) -> str:
        return self.state.client_secret

    @property
    def district(self) -> District:
        return self.state.district

    def set_faults(self, faults: Faults | None = None, **changes: Any) -> None:
        """Replace the faults (``Faults(**changes)`` when no object is given); counts restart."""
        self.state.faults.reset(faults if faults is not None else Faults(**changes))
        with self.state.lock:
            self.state._cache.clear()

    def advance_day(self, days: int = 1) -> list[DayChange]:
        """Advance the served district ``days`` days."""
        return self.state.advance(days)

    def serve_forever(self) -> None:
        """Block until the server is closed (or the process interrupted)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ServerHandle(url={self.url!r}, auth={self.state.auth!r})"


def serve(
    district: District | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    users: int = 5_000,
    seed: int = 0,
    auth: str = "both",
    client_id: str = "snapkit-oneroster",
    client_secret: str | None = None,
    faults: Faults | None = None,
    token_ttl: float = 3600.0,
    max_limit: int = MAX_LIMIT,
) -> ServerHandle:
    """Start a OneRoster 1.1 server in a background thread.

    :param district: the district to serve; generated from ``users`` and ``seed`` if omitted.
    :param host: the address to bind (loopback by default).
    :param port: the port; 0 picks a free one (read it from the handle's ``url``).
    :param auth: ``oauth2``, ``oauth1`` or ``both``.
    :param client_secret: the secret; a random one when omitted (read it from the handle).
    :param faults: faults to inject from the start.
    :param token_ttl: seconds an OAuth 2.0 token is valid.
    :param max_limit: the largest page the server returns, whatever ``limit`` asks.
    :returns: a handle; close it (or use it as a context manager) to stop the server.
    """
    state = ServerState(
        district if district is not None else District.generate(seed=seed, users=users),
        auth=auth,
        client_id=client_id,
        client_secret=client_secret if client_secret is not None else secrets.token_urlsafe(24),
        faults=faults or Faults(),
        token_ttl=token_ttl,
        max_limit=max_limit,
    )
    server = _Server((host, port), state)
    thread = threading.Thread(target=server.serve_forever, name="oneroster-server", daemon=True)
    thread.start()
    return ServerHandle(server, thread)
