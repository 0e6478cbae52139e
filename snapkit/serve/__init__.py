"""``snapkit serve``: the HTTP read API, the admin refresh and the pages, as one ASGI app.

A host mounts the app in its own ASGI application::

    from snapkit import open_project
    from snapkit.serve import create_app

    app = create_app(open_project("snapkit.toml"))

The server's dependencies (Starlette, uvicorn, Jinja2) come with the ``snapkit[serve]`` extra;
importing :mod:`snapkit` never imports them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from starlette.applications import Starlette

    from snapkit.project import Project

__all__ = ["create_app"]


def create_app(project: Project, **options: Any) -> Starlette:
    """Build the ASGI app serving ``project`` (see :func:`snapkit.serve.app.create_app`)."""
    from snapkit.serve.app import create_app as build

    return build(project, **options)
