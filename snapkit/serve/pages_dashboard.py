"""The live dashboard page, ``GET /dashboard?class=ID``.

Pick a class (the contexts of the store's committed snapshots); its tiles -- one per
projection the dashboard's oracles feed -- show their status (``ready``, ``partial``,
``failed``, ``unavailable``) and reason. Without JavaScript the page assembles the chosen
class on the server (:meth:`snapkit.assemble.Assembler.get_or_build`: cache first, the
missing oracles loaded) and renders every tile. With JavaScript (``static/dashboard.js``) a
class switch opens the event stream of :mod:`snapkit.serve.api_dashboard` and the tiles fill
in as the oracle results arrive. The export panel links the profile's ZIP of the class's
stored snapshot (the API's export route) and shows the parity fingerprint per projection that
the ZIP's ``manifest.json`` carries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from snapkit.contracts import ProjectionResult
from snapkit.errors import SnapkitError
from snapkit.serve.api_dashboard import (
    COOKIE,
    DashboardSessions,
    LiveDashboard,
    new_session_id,
    oracle_view,
    tile_view,
)

if TYPE_CHECKING:
    from snapkit.serve.state import ServeState


def _render_fragment(template: str, context: dict[str, Any]) -> str:
    from snapkit.serve.pages import _ENV

    return _ENV.get_template(template).render(**context)


def routes(state: ServeState) -> list[Route]:
    """The dashboard page and its event stream, bound to ``state``."""
    from snapkit.serve import api_dashboard

    live = LiveDashboard(state.project, render=_render_fragment)
    sessions = DashboardSessions(live)
    page = DashboardPage(state, live)
    return [
        Route("/dashboard", page.show, methods=["GET"], name="page_dashboard"),
        *api_dashboard.routes(live, sessions),
    ]


class DashboardPage:
    """The page handler."""

    def __init__(self, state: ServeState, live: LiveDashboard) -> None:
        self.state = state
        self.live = live

    async def show(self, request: Request) -> HTMLResponse:
        from snapkit.serve.pages import _ENV

        root = request.scope.get("root_path", "").rstrip("/")
        context = await run_in_threadpool(self._context, request, root)
        status = context.pop("status_code")
        html = _ENV.get_template("dashboard.html").render(root=root, **context)
        response = HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})
        if COOKIE not in request.cookies:
            response.set_cookie(
                COOKIE, new_session_id(), httponly=True, samesite="strict", path="/"
            )
        return response

    def _context(self, request: Request, root: str) -> dict[str, Any]:
        live = self.live
        context: dict[str, Any] = {
            "page": "dashboard",
            "title": "Live dashboard",
            "error": None,
            "source": None,
            "classes": [],
            "chosen": None,
            "tiles": [],
            "oracles": [],
            "export": None,
            "cache": None,
            "built": None,
            "status_code": 200,
        }
        try:
            classes = live.classes()
            context["classes"] = classes
            context["cache"] = live.cache_kind
            wanted = (request.query_params.get("class") or "").strip()
            if not classes:
                context["error"] = {
                    "message": "There is no class to show yet.",
                    "hint": "Refresh a class's snapshot first; the classes "
                    "are those the store holds snapshots of.",
                }
                return context
            if not wanted:
                context["tiles"] = [
                    {
                        **tile_view(ProjectionResult(key, "unavailable"), about),
                        "status": "waiting",
                        "reason": None,
                    }
                    for key, about in live.tiles()
                ]
                return context
            chosen = live.find_class(wanted)
            if chosen is None:
                context["error"] = {
                    "message": f"There is no class {wanted!r} in the store.",
                    "hint": "Pick one of the classes in the list.",
                }
                context["status_code"] = 404
                return context
            context["chosen"] = chosen
            bundle = live.assembler.get_or_build(
                chosen.scope, f"page:{new_session_id()}", live.oracles()
            )
            keys = [key for key, _ in live.tiles()]
            derived = bundle.project(live.project.manager, keys=keys)
            titles = dict(live.tiles())
            context["tiles"] = [tile_view(derived[key], titles[key]) for key in keys]
            context["oracles"] = [
                oracle_view(key, bundle.results.get(key)) for key in live.oracles()
            ]
            sources: dict[str, int] = {}
            for result in bundle.results.values():
                sources[result.source] = sources.get(result.source, 0) + 1
            context["built"] = dict(sorted(sources.items()))
            context["export"] = live.export_info(chosen, root)
        except SnapkitError as exc:
            from snapkit.serve.pages import status_code_of

            context["error"] = {"message": exc.message, "hint": exc.hint}
            context["status_code"] = status_code_of(exc)
        return context
