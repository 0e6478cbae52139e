"""The pages: status (``/``), search (``/search``), history (``/history``), diff (``/diff``).

Server-rendered HTML (Jinja2, autoescaped), readable without JavaScript. Every page reads
the project directly -- the same functions the API uses -- and says which snapshot (id, age)
its answer comes from. Bad input (an unknown snapshot in ``/diff``, a query that cannot be
read in ``/search``) renders the page with a friendly message and a 400 or 404, never a
traceback. The one script (``static/app.js``) drives the Refresh button.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from snapkit import exitcodes
from snapkit.errors import NoSnapshotError, SnapkitError
from snapkit.serve import badge as _badge
from snapkit.serve import pages_dashboard
from snapkit.serve.pages_diff import diff_view
from snapkit.serve.pages_search import DEFAULT_LIMIT, SearchForm, row_view, search_targets

if TYPE_CHECKING:
    from snapkit.contracts import SnapshotManifest
    from snapkit.serve.state import ServeState

TEMPLATES = Path(__file__).parent / "templates"

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["thousands"] = lambda n: f"{n:,}" if isinstance(n, int) else ("" if n is None else n)
_ENV.filters["short"] = lambda value: (value or "")[:12]
_ENV.filters["when"] = _badge.format_time


def routes(state: ServeState) -> list[Route]:
    """The pages' routes, bound to ``state``."""
    pages = Pages(state)
    return [
        Route("/", pages.status, methods=["GET"], name="page_status"),
        Route("/search", pages.search, methods=["GET"], name="page_search"),
        Route("/history", pages.history, methods=["GET"], name="page_history"),
        Route("/diff", pages.diff, methods=["GET"], name="page_diff"),
        *pages_dashboard.routes(state),
    ]


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def status_code_of(error: SnapkitError) -> int:
    """The HTTP status a page answers an error with: 404 for a snapshot that does not exist,
    400 for input that cannot be used, 500 for anything else (still a friendly page)."""
    if error.exit_code == exitcodes.NO_SNAPSHOT:
        return 404
    if error.exit_code == exitcodes.USAGE:
        return 400
    return 500


class Pages:
    """The page handlers. They are plain functions (Starlette runs them in its thread pool),
    since every read of the store is blocking file I/O."""

    def __init__(self, state: ServeState) -> None:
        self.state = state

    # -- helpers ---------------------------------------------------------------------------

    def _render(
        self, request: Request, template: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        context.setdefault("error", None)
        context.setdefault("source", None)
        html = _ENV.get_template(template).render(root=root, **context)
        return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})

    def _current(self) -> SnapshotManifest | None:
        try:
            return self.state.project.current()
        except NoSnapshotError:
            return None

    @staticmethod
    def _source(manifest: Any, now: _dt.datetime) -> dict[str, str]:
        """Which snapshot an answer comes from: id, short id, age, creation time, status."""
        from snapkit.contracts import parse_time

        age = (now - parse_time(manifest.created_at)).total_seconds()
        return {
            "id": manifest.id,
            "short": manifest.id[:12],
            "age": _badge.age_text(age),
            "created": _badge.format_time(manifest.created_at),
            "status": manifest.status,
        }

    @staticmethod
    def _error(error: SnapkitError) -> dict[str, str | None]:
        return {"message": error.message, "hint": error.hint}

    # -- status ----------------------------------------------------------------------------

    def status(self, request: Request) -> HTMLResponse:
        """The status page: the badge, the current snapshot's tables and the Refresh button."""
        now = _now()
        current = self._current()
        refresh = self.state.runs.status()
        badge = _badge.decide(now, current, refresh)
        run = refresh.get("run") or None
        following = run if run and run.get("state") == "running" else None
        tables = []
        payloads: list[str] = []
        if current is not None:
            tables = [
                {"name": p.name, "records": p.records, "oracle": p.oracle, "key": p.key_column}
                for p in current.parts
            ]
            payloads = sorted(current.payloads)
        return self._render(
            request,
            "status.html",
            page="status",
            title="Snapshot status",
            badge=badge,
            current=current,
            source=self._source(current, now) if current else None,
            tables=tables,
            payloads=payloads,
            total=sum(t["records"] for t in tables),
            run=following,
            lock=refresh.get("lock"),
            running=badge.state == "fetching",
            failure=refresh.get("last_failure"),
            oracles=sorted((following or {}).get("oracles", {}).items()),
        )

    # -- search ----------------------------------------------------------------------------

    def search(self, request: Request) -> HTMLResponse:
        """Search the current snapshot: students, teachers, guardians with their children, or
        any table or search view. Never reads the source."""
        now = _now()
        project = self.state.project
        current = self._current()
        context: dict[str, Any] = {
            "page": "search",
            "title": "Search",
            "result": None,
            "rows": [],
            "form": None,
            "targets": [],
        }
        if current is None:
            return self._render(
                request,
                "search.html",
                404,
                error={
                    "message": "There is no snapshot to search yet.",
                    "hint": "Create one from the status page.",
                },
                **context,
            )
        targets = search_targets(current, project.manager.registry("search_view").keys())
        context["targets"] = targets
        context["source"] = self._source(current, now)
        try:
            form = SearchForm.from_params(request.query_params, targets)
        except SnapkitError as exc:
            context["form"] = SearchForm.blank(targets)
            return self._render(
                request, "search.html", status_code_of(exc), error=self._error(exc), **context
            )
        context["form"] = form
        if not form.submitted:
            return self._render(request, "search.html", **context)
        try:
            result = project.search(
                form.table,
                form.query,
                ref=current.id,
                offset=form.offset,
                limit=DEFAULT_LIMIT,
                ignore_case=not form.exact,
            )
        except SnapkitError as exc:
            return self._render(
                request, "search.html", status_code_of(exc), error=self._error(exc), **context
            )
        context["result"] = result
        context["rows"] = [row_view(row) for row in result.rows]
        return self._render(request, "search.html", **context)

    # -- history ---------------------------------------------------------------------------

    def history(self, request: Request) -> HTMLResponse:
        """Every snapshot, newest first: status, age, counts, links to compare them."""
        from snapkit.contracts import parse_time

        now = _now()
        current = self._current()
        project = self.state.project
        listed = project.snapshots(limit=200)
        rows = []
        explained = 0
        for index, info in enumerate(listed):
            older = next((o for o in listed[index + 1 :] if o.status == "success"), None)
            errors = ""
            if info.error_count and explained < 20:  # what went wrong, for the newest few
                explained += 1
                try:
                    errors = "; ".join(e.message for e in project.store.get(info.id).errors)
                except SnapkitError:
                    errors = ""
            rows.append(
                {
                    "errors": errors,
                    "info": info,
                    "current": current is not None and info.id == current.id,
                    "age": _badge.age_text((now - parse_time(info.created_at)).total_seconds()),
                    "previous": older.id if older else None,
                }
            )
        return self._render(
            request,
            "history.html",
            page="history",
            title="History",
            rows=rows,
            current=current,
            source=self._source(current, now) if current else None,
            choices=[r["info"] for r in rows],
        )

    # -- diff ------------------------------------------------------------------------------

    def diff(self, request: Request) -> HTMLResponse:
        """What changed between two snapshots (``?from=REF&to=REF``), section by section."""
        now = _now()
        project = self.state.project
        params = request.query_params
        from_ref = (params.get("from") or "").strip()
        to_ref = (params.get("to") or "").strip()
        choices = project.snapshots(limit=200)
        context: dict[str, Any] = {
            "page": "diff",
            "title": "Diff",
            "view": None,
            "from_ref": from_ref,
            "to_ref": to_ref,
            "choices": choices,
            "sides": None,
        }
        if not from_ref and not to_ref:
            from_ref, to_ref = "current~1", "current"
            context.update(from_ref=from_ref, to_ref=to_ref)
            if sum(1 for c in choices if c.status == "success") < 2:
                return self._render(request, "diff.html", **context)
        elif not from_ref or not to_ref:
            missing = "from" if not from_ref else "to"
            return self._render(
                request,
                "diff.html",
                400,
                error={
                    "message": f"Choose both snapshots to compare ('{missing}' is empty).",
                    "hint": "Pick them from the lists below, or from the history page.",
                },
                **context,
            )
        try:
            before = project.resolve(from_ref)
            after = project.resolve(to_ref)
            result = project.diff(before.id, after.id, max_items=200)
        except SnapkitError as exc:
            return self._render(
                request, "diff.html", status_code_of(exc), error=self._error(exc), **context
            )
        context["sides"] = {"from": self._source(before, now), "to": self._source(after, now)}
        context["view"] = diff_view(result)
        return self._render(request, "diff.html", **context)
