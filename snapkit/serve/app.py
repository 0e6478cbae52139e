"""The app factory: one Starlette app, its routing table built from the API and the pages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from snapkit.errors import SnapkitError
from snapkit.serve.errors import (
    ApiError,
    error_response,
    handle_api_error,
    handle_snapkit_error,
    handle_unexpected,
)
from snapkit.serve.state import ServeState

if TYPE_CHECKING:
    from snapkit.config import ServeSettings
    from snapkit.project import Project

STATIC = Path(__file__).parent / "static"


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route, wrong method) as JSON under /api, plain elsewhere."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path.startswith("/api") or path == "/openapi.json" or exc.status_code == 405:
        codes = {404: "not_found", 405: "method_not_allowed"}
        message = "no such route" if exc.status_code == 404 else str(exc.detail)
        return error_response(
            ApiError(
                exc.status_code,
                codes.get(exc.status_code, "http_error"),
                message,
                hint="see /openapi.json for the routes",
                headers=exc.headers or {},
            )
        )
    return Response(
        str(exc.detail), status_code=exc.status_code, headers=exc.headers, media_type="text/plain"
    )


def create_app(
    project: Project,
    *,
    settings: ServeSettings | None = None,
    isolate_refresh: bool | None = None,
    **_: Any,
) -> Starlette:
    """Build the ASGI app serving ``project``.

    :param project: the project to serve; every read comes from its store.
    :param settings: the ``[serve]`` settings; the project's config by default. The admin
        token is ``settings.token``, else ``$SNAPKIT_SERVE_TOKEN``, else none (the admin
        endpoint then answers 503).
    :param isolate_refresh: run admin refreshes in their own process (the default when the
        project has a config file; see :class:`snapkit.serve.runs.RefreshRuns`).
    :raises ConfigError: if the admin token is shorter than 32 characters.
    """
    from snapkit.serve import api, pages
    from snapkit.serve.api_views import CurrentCache
    from snapkit.serve.auth import resolve_token
    from snapkit.serve.ratelimit import SlidingWindowLimiter
    from snapkit.serve.runs import RefreshRuns

    settings = settings or project.config.serve
    token = resolve_token(settings.token, where=project.config.where)
    runs = RefreshRuns(project, isolate=isolate_refresh, nice=settings.refresh_nice)
    limiter = SlidingWindowLimiter(settings.refresh_per_minute)
    state = ServeState(
        project=project,
        runs=runs,
        settings=settings,
        token=token,
        limiter=limiter,
        current=CurrentCache(),
    )
    routes = [
        *api.routes(state),
        *pages.routes(state),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            ApiError: handle_api_error,
            SnapkitError: handle_snapkit_error,
            HTTPException: _http_error,
            Exception: handle_unexpected,
        },
    )
    app.state.snapkit = state
    return app
