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
import io
import json
import logging
import secrets
import threading
import time
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from snapkit_oneroster.api import API_PREFIX, MAX_LIMIT, ApiError, answer, imsx_body
from snapkit_oneroster.bulk_csv import write_bulk_zip
from snapkit_oneroster.district import DayChange, District
from snapkit_oneroster.faults import Faults
from snapkit_oneroster.schema import TABLES
from snapkit_oneroster.server_state import AUTH_MODES, ServerState

log = logging.getLogger(__name__)

TOKEN_PATH = "/token"
_ACCEPTS = {
    "oauth2": "OAuth 2.0 bearer tokens",
    "oauth1": "OAuth 1.0a signatures",
    "both": "OAuth 2.0 bearer tokens or OAuth 1.0a signatures",
}

__all__ = ["API_PREFIX", "AUTH_MODES", "MAX_LIMIT", "TOKEN_PATH", "ServerHandle", "serve"]


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
        result = answer(
            state, segments, params, origin=self._origin, path=urllib.parse.urlsplit(self.path).path
        )
        headers = dict(result.headers)
        if faults.omit_total_count:
            headers.pop("X-Total-Count", None)
        truncate = faults.truncate_always or counter.take("truncate")
        self._json(200, result.body, headers=headers, truncate=truncate)

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
                faults = Faults.from_json(data)
            except ValueError as exc:
                raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_data", f"faults: {exc}") from None
            state.set_faults(faults)
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
        self.state.set_faults(faults if faults is not None else Faults(**changes))

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
