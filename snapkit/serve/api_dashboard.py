"""The live dashboard's data and its event stream (``GET /api/dashboard/{class_id}/events``).

The live dashboard (docs/coordinator.md: the instructor dashboard driven by the coordinator)
hydrates a class from its oracles through the oracle cache: every tile is derived from
results that come from the cache or are freshly loaded by the
:class:`~snapkit.assemble.Assembler`. The snapshot store is read (to list the classes and for
the export of a class's stored snapshot), never written.

- :class:`LiveDashboard` knows the classes (the scopes of the store's committed snapshots),
  the oracles of a class (``refresh.oracles`` and what they require), the tiles (the
  projections those oracles feed) and the export profile; it owns the assembler and the
  ``[cache]`` (the ``memory`` backend when none is configured and it is installed).
- :class:`LiveSession` is one browser session: one :class:`CoordinatorDriver` (at most one
  build in flight and one queued, the latest intent wins), turning the coordinator's UI
  actions into the messages of the event stream: ``loading``, ``oracle`` (one source's
  outcome), ``tile`` (one projection, as soon as every oracle it reads has an outcome),
  ``complete`` and ``timeout``. A message only ever names the session's latest intent.
- :class:`DashboardSessions` keeps the sessions by browser session (a cookie) and closes a
  session once its last stream has closed (after ``linger`` seconds, so a class switch that
  closes one stream and opens the next keeps the session and its coordinator).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from snapkit.contracts import OracleResult, ProjectionResult, Scope, SnapshotManifest, utc_now
from snapkit.errors import SnapkitError
from snapkit.serve.errors import ApiError

if TYPE_CHECKING:
    from snapkit.assemble import Assembler
    from snapkit.cache import OracleCache
    from snapkit.project import Project

log = logging.getLogger("snapkit.serve.dashboard")

COOKIE = "snapkit_live"
"""The cookie naming a browser's dashboard session (random, no meaning of its own)."""

MAX_SESSIONS = 200
"""Live sessions one server keeps at most; a stream beyond it is refused (503)."""

KEEPALIVE = 15.0
"""Seconds between keep-alive comments on an idle stream."""

_NOT_SHOWN = frozenset({"snapshot_id"})
"""Value members a tile leaves out: a live assembly's content id names no stored snapshot."""


@frozen
class ClassChoice:
    """A class the dashboard offers: its id (the scope's context), a label, the scope to
    hydrate, and the newest committed snapshot of it (what Export downloads)."""

    id: str
    label: str
    scope: Scope
    snapshot_id: str
    created_at: str


def _label(manifest: SnapshotManifest, context: str) -> str:
    """A class's label: the ``title`` of a payload describing the class (a mapping whose
    ``sourcedId`` or ``id`` is the context), else the context itself."""
    for _, payload in sorted(manifest.payloads.items()):
        if (
            isinstance(payload, Mapping)
            and isinstance(payload.get("title"), str)
            and context in (payload.get("sourcedId"), payload.get("id"))
        ):
            return str(payload["title"])
    return context


def _count(value: Any) -> int | None:
    """Rows of a list or of a columnar table (a mapping of equal-length lists)."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, Mapping) and value and all(isinstance(v, list) for v in value.values()):
        lengths = {len(v) for v in value.values()}
        return lengths.pop() if len(lengths) == 1 else None
    return None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _words(key: str) -> str:
    return key.replace("_", " ")


def tile_view(result: ProjectionResult, about: str = "") -> dict[str, Any]:
    """What a tile shows of a projection result: its status and reason, and the value's
    headline figures (top-level numbers and texts), counts (flat mappings of numbers) and
    row counts (lists and columnar tables). JSON-able."""
    figures: list[dict[str, str]] = []
    groups: list[dict[str, Any]] = []
    value = result.value if result.status in ("ready", "partial") else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            rows = _count(item)
            if item is None or key in _NOT_SHOWN:
                continue
            if isinstance(item, str | int | float | bool):
                figures.append({"label": _words(key), "value": _text(item)})
            elif rows is not None:
                figures.append({"label": _words(key), "value": f"{rows:,} rows"})
            elif (
                isinstance(item, Mapping)
                and item
                and all(isinstance(v, int | float | str) for v in item.values())
            ):
                groups.append(
                    {
                        "label": _words(key),
                        "items": [
                            {"label": _words(str(k)), "value": _text(v)} for k, v in item.items()
                        ],
                    }
                )
    elif value is not None:
        rows = _count(value)
        figures.append(
            {"label": "value", "value": f"{rows:,} rows" if rows is not None else _text(value)}
        )
    title = _words(result.key)
    return {
        "key": result.key,
        "title": title[:1].upper() + title[1:],
        "about": about,
        "status": result.status,
        "reason": result.reason,
        "message": result.message,
        "figures": figures[:10],
        "groups": groups[:4],
    }


def oracle_view(
    key: str, result: OracleResult | None, *, timed_out: bool = False
) -> dict[str, Any]:
    """What the sources strip shows of one oracle: ``waiting``, ``ready`` (from the cache
    or freshly loaded), ``failed`` or ``skipped``, ``timed out``, and the error code."""
    if result is None:
        return {
            "key": key,
            "state": "timed out" if timed_out else "waiting",
            "source": None,
            "reason": "build_timeout" if timed_out else None,
        }
    state = {"ok": "ready", "failed": "failed", "skipped": "skipped"}.get(
        result.status, result.status
    )
    return {
        "key": key,
        "state": state,
        "source": result.source,
        "reason": result.error.code if result.error is not None else None,
    }


class LiveDashboard:
    """What every live session of one server shares (see the module docstring).

    :param render: turns ``(template, context)`` into HTML; the stream sends each tile and
        source as the same HTML fragment the page renders server-side.
    :param build_timeout: the coordinator's hard timeout of one build, in seconds.
    :param linger: seconds a session outlives its last stream.
    """

    def __init__(
        self,
        project: Project,
        *,
        render: Callable[[str, dict[str, Any]], str],
        build_timeout: float | None = None,
        linger: float = 5.0,
    ) -> None:
        from snapkit import coordinator as co

        self.project = project
        self.render = render
        self.build_timeout = (
            build_timeout if build_timeout is not None else co.DEFAULT_BUILD_TIMEOUT
        )
        self.linger = linger
        self._lock = threading.Lock()
        self._assembler: Assembler | None = None
        self._classes: tuple[tuple[str, ...], list[ClassChoice]] | None = None
        self._parity: dict[tuple[str, str], dict[str, str]] = {}

    # -- what the dashboard is made of -------------------------------------------------------

    @property
    def assembler(self) -> Assembler:
        """The assembler, with the configured ``[cache]`` (else ``memory`` if installed)."""
        with self._lock:
            if self._assembler is None:
                self._assembler = self._build_assembler()
            return self._assembler

    def _build_assembler(self) -> Assembler:
        from snapkit.assemble import Assembler
        from snapkit.cache import OracleCache, open_cache

        project = self.project
        cache: OracleCache | None = open_cache(project.config, project.manager)
        if cache is None and "memory" in project.manager.cache_backends:
            descriptor = project.manager.cache_backends.get("memory")
            cache = OracleCache(descriptor.factory({}), kind="memory")
        return Assembler(
            project.manager,
            cache=cache,
            settings=project.config.refresh,
            oracle_settings=project.oracle_settings,
        )

    @property
    def cache_kind(self) -> str | None:
        """The cache backend in use, or ``None`` (every tile is then freshly loaded)."""
        cache = self.assembler.cache
        return cache.kind if cache is not None else None

    def oracles(self) -> tuple[str, ...]:
        """The oracles a class is hydrated from: ``refresh.oracles`` and what they require."""
        return self.assembler.profile()

    def tiles(self) -> list[tuple[str, str]]:
        """The tiles, ``(projection key, description)``: every projection whose required
        oracles are among :meth:`oracles`, in key order."""
        oracles = set(self.oracles())
        return [
            (d.key, d.description)
            for d in sorted(self.project.manager.projections, key=lambda d: d.key)
            if d.requires and set(d.requires) <= oracles
        ]

    def tile_reads(self) -> dict[str, tuple[str, ...]]:
        """The oracles each tile reads (required and optional)."""
        registry = self.project.manager.projections
        return {
            key: tuple(registry.get(key).requires) + tuple(registry.get(key).optional)
            for key, _ in self.tiles()
        }

    def profile(self) -> str | None:
        """The export profile of the dashboard: the first (by name) whose datasets all read
        tiles' projections; ``None`` if there is none."""
        from snapkit.export import datasets_for, profiles

        tiles = {key for key, _ in self.tiles()}
        for name in profiles(self.project.manager):
            datasets = datasets_for(self.project.manager, name)
            if all(set(d.requires) | set(d.optional) <= tiles for d in datasets):
                return name
        return None

    def classes(self) -> list[ClassChoice]:
        """The classes: the contexts of the store's committed snapshots in the configured
        namespace (newest snapshot of each first seen wins), sorted by label."""
        infos = self.project.snapshots(limit=500)
        namespace = self.project.config.scope.namespace
        committed = tuple(
            i.id for i in infos if i.status in ("success", "partial") and i.namespace == namespace
        )
        with self._lock:
            if self._classes is not None and self._classes[0] == committed:
                return list(self._classes[1])
        found: dict[str, ClassChoice] = {}
        seen_scopes: set[str] = set()
        for info in infos:
            if info.id not in committed or info.scope_id in seen_scopes:
                continue
            seen_scopes.add(info.scope_id)
            manifest = self.project.store.get(info.id)
            context = manifest.scope.context
            if context is None or context in found:
                continue
            found[context] = ClassChoice(
                context, _label(manifest, context), manifest.scope, manifest.id, manifest.created_at
            )
        chosen = sorted(found.values(), key=lambda c: (c.label.casefold(), c.id))
        with self._lock:
            self._classes = (committed, chosen)
        return list(chosen)

    def find_class(self, class_id: str) -> ClassChoice | None:
        """The class ``class_id``, or ``None`` if the store has no snapshot of it."""
        return next((c for c in self.classes() if c.id == class_id), None)

    # -- deriving ----------------------------------------------------------------------------

    def derive(
        self,
        scope: Scope,
        token: str,
        results: Mapping[str, OracleResult],
        part_data: Mapping[str, bytes],
        keys: Sequence[str],
    ) -> dict[str, Any]:
        """Derive projections ``keys`` from the results so far (a bundle assembled in
        memory, never committed): projection results by key."""
        from snapkit.assemble import MemoryParts

        assembler = self.assembler
        parts = MemoryParts(
            {
                r.part.sha256: part_data[r.part.sha256]
                for r in results.values()
                if r.part is not None and r.part.sha256 in part_data
            }
        )
        bundle = assembler._bundle(
            scope, token, sorted(results), dict(results), parts, utc_now(), time.monotonic()
        )
        return dict(bundle.project(self.project.manager, keys=list(keys)).results)

    def parity(self, choice: ClassChoice) -> dict[str, str]:
        """The parity fingerprint per projection that the export ZIP of the class's stored
        snapshot carries in its ``manifest.json`` (derived from the store; no fetch)."""
        from snapkit.export import SnapshotBundle, datasets_for, expected_parity
        from snapkit.projection import derive_for_project

        profile = self.profile()
        if profile is None:
            return {}
        cached = self._parity.get((choice.snapshot_id, profile))
        if cached is not None:
            return cached
        manifest = self.project.store.get(choice.snapshot_id)
        derived = derive_for_project(self.project, manifest)

        def settings(descriptor: Any) -> Any:
            return self.project.config.plugin_settings(descriptor.kind, descriptor.key)

        fingerprints = expected_parity(
            SnapshotBundle.from_projection_set(manifest, derived),
            datasets_for(self.project.manager, profile),
            settings=settings,
        )
        with self._lock:
            self._parity[(choice.snapshot_id, profile)] = dict(fingerprints)
        return dict(fingerprints)

    def export_info(self, choice: ClassChoice, root: str = "") -> dict[str, Any]:
        """The export panel: profile, download URL, the stored snapshot and fingerprints."""
        profile = self.profile()
        if profile is None:
            return {
                "profile": None,
                "url": None,
                "snapshot_id": choice.snapshot_id,
                "created_at": choice.created_at,
                "parity": {},
            }
        return {
            "profile": profile,
            "url": f"{root}/api/snapshots/{choice.snapshot_id}/export?profile={profile}",
            "snapshot_id": choice.snapshot_id,
            "created_at": choice.created_at,
            "parity": dict(sorted(self.parity(choice).items())),
        }

    def close(self) -> None:
        """Close the cache (at server shutdown)."""
        if self._assembler is not None and self._assembler.cache is not None:
            self._assembler.cache.close()


def sse(event: str, data: Mapping[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


class _Build:
    """What a session has shown of its latest intent."""

    def __init__(self, token: str, scope: Scope, oracles: Sequence[str]) -> None:
        self.token = token
        self.scope = scope
        self.oracles = tuple(oracles)
        self.results: dict[str, OracleResult] = {}
        self.sent: set[str] = set()


class LiveSession:
    """One browser session's coordinator and the streams attached to it."""

    def __init__(self, live: LiveDashboard, session_id: str) -> None:
        from snapkit.coordinator_driver import CoordinatorDriver

        self.live = live
        self.session_id = session_id
        self.streams = 0
        self.part_data: dict[str, bytes] = {}
        assembler = live.assembler
        self.driver = CoordinatorDriver(
            assembler.runner(self.part_data),
            cache=assembler.cache,
            versions=assembler.versions,
            on_update=self._on_update,
            emit=live.project.manager.emit,
            session_id=session_id,
            build_timeout=live.build_timeout,
            part_data=self.part_data,
        )
        self._inbox: asyncio.Queue[Any] = asyncio.Queue()
        self._outboxes: dict[str, asyncio.Queue[str]] = {}
        self._build: _Build | None = None
        self.seq = -1
        """The page's highest switch counter seen (``?seq=``)."""
        self.latest: str | None = None
        """The newest request's token: the updates the worker shows lag the coordinator's
        state (the build may be over), so the check is against the newest request."""
        self._worker = asyncio.get_running_loop().create_task(self._work())
        self._expiry: asyncio.TimerHandle | None = None
        self.closed = False

    def request(self, choice: ClassChoice) -> tuple[str, asyncio.Queue[str]]:
        """Ask the coordinator for ``choice``; return the request's token and the queue its
        stream reads messages from."""
        outbox: asyncio.Queue[str] = asyncio.Queue()
        token = self.driver.request(choice.scope, self.live.oracles())
        self.latest = token
        self._outboxes[token] = outbox
        # a stream only ever hears its own token, and only while it is the latest intent
        for old in [t for t in self._outboxes if t != token]:
            del self._outboxes[old]
        return token, outbox

    def release(self, token: str) -> None:
        """A stream has closed: stop sending it messages."""
        self._outboxes.pop(token, None)

    def _on_update(self, action: Any) -> None:
        self._inbox.put_nowait(action)

    async def _work(self) -> None:
        while True:
            action = await self._inbox.get()
            try:
                await self._handle(action)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "live dashboard: could not show an update of session %s", self.session_id
                )

    def _send(self, token: str, event: str, data: dict[str, Any]) -> None:
        outbox = self._outboxes.get(token)
        if outbox is None or token != self.latest:
            return  # a stale token never reaches the page
        outbox.put_nowait(sse(event, {"token": token, **data}))

    async def _handle(self, action: Any) -> None:
        from snapkit import coordinator as co

        live = self.live
        if isinstance(action, co.ShowLoading):
            self._build = _Build(action.token, action.scope, action.oracles)
            self._send(
                action.token,
                "loading",
                {
                    "class_id": action.scope.context,
                    "oracles": list(action.oracles),
                    "tiles": [key for key, _ in live.tiles()],
                },
            )
            return
        build = self._build
        if build is None or build.token != action.token:
            return
        if isinstance(action, co.ApplyResult):
            result = action.result
            build.results[result.oracle] = result
            self._send(build.token, "oracle", self._oracle_message(result.oracle, result))
            reads = live.tile_reads()
            ready = [
                key
                for key, wants in reads.items()
                if key not in build.sent and all(k in build.results for k in wants)
            ]
            await self._tiles(build, ready)
        elif isinstance(action, co.ShowTimeout):
            for key in action.missing:
                self._send(build.token, "oracle", self._oracle_message(key, None, True))
            await self._finish(build, "timeout", {"missing": list(action.missing)})
        elif isinstance(action, co.ShowComplete):
            await self._finish(build, "complete", {})

    def _oracle_message(
        self, key: str, result: OracleResult | None, timed_out: bool = False
    ) -> dict[str, Any]:
        view = oracle_view(key, result, timed_out=timed_out)
        return {**view, "html": self.live.render("dashboard_oracle.html", {"oracle": view})}

    async def _tiles(self, build: _Build, keys: Sequence[str]) -> None:
        if not keys:
            return
        build.sent.update(keys)
        results = dict(build.results)
        derived = await asyncio.to_thread(
            self.live.derive, build.scope, build.token, results, self.part_data, keys
        )
        titles = dict(self.live.tiles())
        for key in keys:
            view = tile_view(derived[key], titles.get(key, ""))
            self._send(
                build.token,
                "tile",
                {**view, "html": self.live.render("dashboard_tile.html", {"tile": view})},
            )

    async def _finish(self, build: _Build, event: str, extra: dict[str, Any]) -> None:
        await self._tiles(build, [key for key, _ in self.live.tiles() if key not in build.sent])
        sources: dict[str, int] = {}
        for result in build.results.values():
            sources[result.source] = sources.get(result.source, 0) + 1
        self._send(build.token, event, {"sources": dict(sorted(sources.items())), **extra})

    def expire_later(self, delay: float, callback: Callable[[], None]) -> None:
        self.cancel_expiry()
        self._expiry = asyncio.get_running_loop().call_later(delay, callback)

    def cancel_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    async def aclose(self) -> None:
        """End the session: cancel its loads, timers and worker."""
        self.closed = True
        self.cancel_expiry()
        self._worker.cancel()
        await asyncio.gather(self._worker, return_exceptions=True)
        await self.driver.aclose()
        self._outboxes.clear()


class DashboardSessions:
    """The live sessions of one server, by browser session id."""

    def __init__(self, live: LiveDashboard, *, limit: int = MAX_SESSIONS) -> None:
        self.live = live
        self.limit = limit
        self.sessions: dict[str, LiveSession] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def attach(self, session_id: str) -> LiveSession:
        """The session ``session_id`` (created if new), with one more stream attached.

        :raises ApiError: 503 when the server already keeps :attr:`limit` sessions.
        """
        session = self.sessions.get(session_id)
        if session is None:
            if len(self.sessions) >= self.limit:
                raise ApiError(
                    503,
                    "too_many_sessions",
                    "the server keeps as many live dashboard sessions as it can",
                    hint="close other dashboard tabs or try again shortly",
                )
            session = self.sessions[session_id] = LiveSession(self.live, session_id)
        session.cancel_expiry()
        session.streams += 1
        return session

    def detach(self, session: LiveSession) -> None:
        """A stream of ``session`` closed; close the session when it has no stream left
        (after the dashboard's ``linger``)."""
        session.streams -= 1
        if session.streams > 0:
            return
        if self.live.linger <= 0:
            self._close(session)
        else:
            session.expire_later(self.live.linger, lambda: self._close(session))

    def _close(self, session: LiveSession) -> None:
        if session.streams > 0 or self.sessions.get(session.session_id) is not session:
            return
        del self.sessions[session.session_id]
        task = asyncio.get_running_loop().create_task(session.aclose())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Close every session (at server shutdown)."""
        sessions = list(self.sessions.values())
        self.sessions.clear()
        await asyncio.gather(
            *(s.aclose() for s in sessions), *self._closing, return_exceptions=True
        )


_PAGE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def _session_of(request: Request) -> str:
    """The coordinator session of a stream: the page's id (``?page=``, one per page load,
    as a LiveView session is one per tab), else one derived from the browser's cookie, else
    a new one (a session of its own)."""
    page = request.query_params.get("page")
    if page is not None:
        if not _PAGE.fullmatch(page):
            raise ApiError(
                400,
                "bad_parameter",
                "page must be 8-64 letters, digits, - or _",
                hint="let static/dashboard.js choose it",
            )
        return page
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return "c-" + hashlib.sha256(cookie.encode()).hexdigest()[:24]
    return new_session_id()


def _seq_of(request: Request) -> int | None:
    """The page's switch counter (``?seq=``): a stream older than one already seen is
    superseded."""
    text = request.query_params.get("seq")
    if text is None:
        return None
    if not text.isdigit() or len(text) > 15:
        raise ApiError(
            400,
            "bad_parameter",
            "seq must be a whole number",
            hint="let static/dashboard.js count the class switches",
        )
    return int(text)


def new_session_id() -> str:
    """A fresh browser session id for the cookie."""
    return secrets.token_urlsafe(18)


def routes(live: LiveDashboard, sessions: DashboardSessions) -> list[Route]:
    """The live dashboard's API route."""

    async def events(request: Request) -> Response:
        class_id = request.path_params["class_id"]
        try:
            choice = await asyncio.to_thread(live.find_class, class_id)
        except SnapkitError as exc:
            raise ApiError(503, "store_unreadable", exc.message, hint=exc.hint) from None
        if choice is None:
            raise ApiError(
                404,
                "unknown_class",
                f"no class {class_id!r} in the store",
                hint="pick one of the classes listed on /dashboard",
            )
        session_id = _session_of(request)
        seq = _seq_of(request)
        session = sessions.attach(session_id)
        if seq is not None and seq <= session.seq:
            # a switch the page made before a later one that got here first: the later one
            # is the page's latest intent (no event stream; EventSource does not retry a 204)
            sessions.detach(session)
            return Response(status_code=204, headers={"Cache-Control": "no-store"})
        try:
            token, outbox = session.request(choice)
        except BaseException:
            sessions.detach(session)
            raise
        if seq is not None:
            session.seq = seq
        export = await asyncio.to_thread(
            live.export_info, choice, request.scope.get("root_path", "").rstrip("/")
        )

        async def stream() -> AsyncIterator[str]:
            try:
                yield sse(
                    "session",
                    {
                        "token": token,
                        "class_id": choice.id,
                        "label": choice.label,
                        "cache": live.cache_kind,
                        "export": export,
                    },
                )
                while True:
                    try:
                        message = await asyncio.wait_for(outbox.get(), KEEPALIVE)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield message
            finally:
                session.release(token)
                sessions.detach(session)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    events.live = live  # type: ignore[attr-defined]
    events.sessions = sessions  # type: ignore[attr-defined]
    return [
        Route(
            "/api/dashboard/{class_id}/events", events, methods=["GET"], name="api_dashboard_events"
        )
    ]


def dashboard_of(app: Any) -> tuple[LiveDashboard, DashboardSessions]:
    """The live dashboard and its sessions of an app built by ``create_app`` (for hosts
    and tests that inspect or tune them).

    :raises LookupError: if the app has no live dashboard route.
    """
    for route in app.routes:
        if getattr(route, "name", None) == "api_dashboard_events":
            endpoint = route.endpoint
            return endpoint.live, endpoint.sessions
    raise LookupError("the app has no live dashboard")
