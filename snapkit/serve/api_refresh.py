"""The refresh routes: its status, the admin refresh, a run's progress as JSON and as SSE.

``POST /api/admin/refresh`` checks, in this order: a token is configured (else 503), the
rate limit (every attempt counts, so guessing tokens is limited too: 429 with
``Retry-After``), the bearer token (401 without, 403 wrong; compared in constant time), that
no refresh runs (409 with the holder); then starts the run (202). Every attempt is announced
through the ``snapkit_admin_refresh_attempted`` event hook, with the client address and the
outcome, never the token.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from snapkit.serve.auth import check_bearer
from snapkit.serve.errors import ApiError, JSONBody, error_body, json_bytes
from snapkit.serve.runs import RefreshAlreadyRunning

if TYPE_CHECKING:
    from snapkit.serve.state import ServeState

log = logging.getLogger("snapkit.serve")

HEARTBEAT = 15.0
"""Seconds between keep-alive comments of an event stream while nothing changes."""


def refresh_routes(state: ServeState) -> list[BaseRoute]:
    """The refresh status and admin routes."""
    handlers = _Refresh(state)
    return [
        Route("/api/refresh", handlers.status, methods=["GET"]),
        Route("/api/admin/refresh", handlers.admin_refresh, methods=["POST"]),
        Route("/api/refresh/runs/{run_id}", handlers.run, methods=["GET"]),
        Route("/api/refresh/runs/{run_id}/events", handlers.events, methods=["GET"]),
    ]


def client_address(request: Request) -> str:
    """The caller as the server saw it (``host:port``), for the audit event and the run."""
    if request.client is None:
        return "unknown"
    return f"{request.client.host}:{request.client.port}"


class _Refresh:
    def __init__(self, state: ServeState) -> None:
        self.state = state

    async def status(self, request: Request) -> Response:
        body = await run_in_threadpool(self.state.runs.status)
        return JSONBody(body, headers={"Cache-Control": "no-store"})

    def _audit(
        self,
        client: str,
        outcome: str,
        status: int,
        *,
        run_id: str | None = None,
        holder: str | None = None,
    ) -> None:
        from snapkit.contracts import utc_now
        from snapkit.events import AdminRefreshAttempted

        log.info("admin refresh attempt from %s: %s (%d)", client, outcome, status)
        self.state.project.manager.emit(
            "snapkit_admin_refresh_attempted",
            AdminRefreshAttempted(client, outcome, status, utc_now(), run_id, holder),
        )

    async def admin_refresh(self, request: Request) -> Response:
        client = client_address(request)
        token = self.state.token
        if token is None:
            self._audit(client, "disabled", 503)
            raise ApiError(
                503,
                "admin_disabled",
                "admin refresh is disabled: set serve.token",
                hint="set serve.token (or $SNAPKIT_SERVE_TOKEN) to a token of at "
                "least 32 characters and restart the server",
            )
        retry_after = self.state.limiter.attempt()
        if retry_after is not None:
            self._audit(client, "rate_limited", 429)
            raise ApiError(
                429,
                "rate_limited",
                f"too many admin refresh attempts (at most {self.state.limiter.limit} a minute)",
                hint=f"retry after {retry_after:.0f} s",
                headers={"Retry-After": f"{retry_after:.0f}"},
            )
        verdict = check_bearer(request.headers.get("authorization"), token)
        if verdict == "missing":
            self._audit(client, "no_token", 401)
            raise ApiError(
                401,
                "unauthorized",
                "the admin token is missing",
                hint="send the header 'Authorization: Bearer <serve.token>'",
                headers={"WWW-Authenticate": 'Bearer realm="snapkit"'},
            )
        if verdict == "wrong":
            self._audit(client, "wrong_token", 403)
            raise ApiError(
                403,
                "forbidden",
                "the admin token is wrong",
                hint="send the token set as serve.token",
            )
        try:
            run = await run_in_threadpool(self.state.runs.start, client)
        except RefreshAlreadyRunning as exc:
            holder = exc.holder.get("holder")
            self._audit(client, "refresh_running", 409, holder=holder)
            body = error_body("refresh_running", exc.message, exc.hint, holder=exc.holder)
            return JSONBody(body, status_code=409)
        self._audit(client, "started", 202, run_id=run.run_id)
        return JSONBody(
            {
                "run_id": run.run_id,
                "status_url": f"/api/refresh/runs/{run.run_id}",
                "events_url": f"/api/refresh/runs/{run.run_id}/events",
            },
            status_code=202,
            headers={"Location": f"/api/refresh/runs/{run.run_id}"},
        )

    def _run(self, request: Request) -> Any:
        run_id = str(request.path_params.get("run_id", ""))
        run = self.state.runs.get(run_id)
        if run is None:
            raise ApiError(
                404,
                "unknown_run",
                "no refresh run with this id on this server",
                hint="GET /api/refresh shows the newest run",
            )
        return run

    async def run(self, request: Request) -> Response:
        return JSONBody(self._run(request).as_json(), headers={"Cache-Control": "no-store"})

    async def events(self, request: Request) -> Response:
        run = self._run(request)

        async def stream() -> AsyncIterator[bytes]:
            async for value in run.changes(heartbeat=HEARTBEAT):
                if value is None:
                    yield b": keep-alive\n\n"
                    continue
                kind = b"progress" if value["state"] == "running" else b"done"
                yield b"event: " + kind + b"\ndata: " + json_bytes(value) + b"\n\n"

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
