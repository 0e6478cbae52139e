"""The app factory: one Starlette app, its routing table built from the API and the pages."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from snapkit.serve.state import ServeState

if TYPE_CHECKING:
    from snapkit.config import ServeSettings
    from snapkit.project import Project

STATIC = Path(__file__).parent / "static"


def create_app(project: Project, *, settings: ServeSettings | None = None,
               **_: Any) -> Starlette:
    """Build the ASGI app serving ``project``.

    :param project: the project to serve; every read comes from its store.
    :param settings: the ``[serve]`` settings; the project's config by default.
    """
    from snapkit.serve import api, pages
    from snapkit.serve.runs import RefreshRuns

    settings = settings or project.config.serve
    state = ServeState(project=project, runs=RefreshRuns(project), settings=settings)
    routes = [
        *api.routes(state),
        *pages.routes(state),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes)
    app.state.snapkit = state
    return app
