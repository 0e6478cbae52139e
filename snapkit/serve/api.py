"""The read API (JSON under ``/api``) and its OpenAPI document (``/openapi.json``).

Every route reads the store through the project, in a worker thread (a refresh running in
the same process never blocks a read), and never fetches; ``GET /api/current`` answers from
memory between its pointer checks (:class:`CurrentEndpoint`). Answers about a snapshot carry
``ETag: "<snapshot id>"`` and answer ``If-None-Match`` with 304. Errors are JSON
(:mod:`snapkit.serve.errors`). The routes of the refresh status and the admin refresh are in
:mod:`snapkit.serve.api_refresh`.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import functools
import io
import itertools
import threading
import time
from array import array
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from snapkit.serve import api_params as params
from snapkit.serve.api_refresh import refresh_routes
from snapkit.serve.api_views import info, summary
from snapkit.serve.errors import ApiError, JSONBody

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from snapkit.contracts import SnapshotManifest
    from snapkit.serve.api_views import CurrentSummary
    from snapkit.serve.state import ServeState
    from snapkit.store import ChunkedPartReader

CHUNK = 64 * 1024
"""Streamed answers are sent in chunks of about this many bytes."""

RECORDS_LIMIT = 1000
RECORDS_MAX = 100_000
LIST_LIMIT = 20
LIST_MAX = 1000
SEARCH_LIMIT = 20
SEARCH_MAX = 1000
PART_READERS = 8
"""At most this many records pages are read (decompressed) at once; more wait their turn.
Each reader holds a decompression window, so this bounds the server's memory."""
POINTER_RECHECK = 0.05
"""``GET /api/current`` re-reads the store's pointer when its last read is older than this
(seconds): a busy server answers most requests from memory, at most this late after a
commit."""


def routes(state: ServeState) -> list[BaseRoute]:
    """The API's routes (the app adds the pages' routes beside them)."""
    api = _Api(state)
    return [
        Route("/api/current", CurrentEndpoint(state), methods=["GET"]),  # the most frequent
        Route("/openapi.json", api.openapi, methods=["GET"]),
        Route("/api/snapshots", api.snapshots, methods=["GET"]),
        Route("/api/snapshots/{ref}", api.snapshot, methods=["GET"]),
        Route("/api/snapshots/{ref}/tables/{table}/records", api.records, methods=["GET"]),
        Route("/api/snapshots/{ref}/projections", api.projections, methods=["GET"]),
        Route("/api/snapshots/{ref}/export", api.export, methods=["GET"]),
        Route("/api/diff", api.diff, methods=["GET"]),
        Route("/api/search", api.search, methods=["GET"]),
        *refresh_routes(state),
    ]


@functools.lru_cache(maxsize=256)
def _created(created_at: str) -> float:
    from snapkit.contracts import parse_time

    return parse_time(created_at).timestamp()


def _age(created_at: str) -> float:
    return round(time.time() - _created(created_at), 3)


def _chunks(lines: Iterator[bytes]) -> Iterator[bytes]:
    buffer: list[bytes] = []
    size = 0
    for line in lines:
        buffer.append(line)
        size += len(line)
        if size >= CHUNK:
            yield b"".join(buffer)
            buffer, size = [], 0
    if buffer:
        yield b"".join(buffer)


def _page_of_blocks(blocks: Iterator[bytes], offset: int, limit: int) -> Iterator[bytes]:
    """Lines ``offset`` to ``offset + limit`` of a part read in blocks: skipped lines are
    counted with ``bytes.count``, never split one by one."""
    skip, left = offset, limit
    tail = b""
    for block in blocks:
        if skip:
            newlines = block.count(b"\n")
            if newlines < skip:
                skip -= newlines
                continue
            cut = -1
            for _ in range(skip):
                cut = block.index(b"\n", cut + 1)
            block, skip = block[cut + 1 :], 0
        data = tail + block
        end = len(data)
        newlines = data.count(b"\n")
        if newlines >= left:
            end = -1
            for _ in range(left):
                end = data.index(b"\n", end + 1)
            yield data[: end + 1]
            return
        last = data.rfind(b"\n") + 1
        if last:
            yield data[:last]
        left -= newlines
        tail = data[last:]
    if tail:
        yield tail


def _page_of_chunks(
    ends: Sequence[int],
    read: Callable[[list[int]], Iterator[bytes]],
    offset: int,
    limit: int,
) -> Iterator[bytes]:
    """Lines ``offset`` to ``offset + limit`` of a chunked part: the chunks before the page
    are skipped by their row counts, unread. ``ends[i]`` is the number of rows in chunks
    ``0`` to ``i``; ``read(positions)`` yields the bytes of the chunks at ``positions`` (the
    ones the page spans, ascending)."""
    first = bisect.bisect_right(ends, offset)
    if first >= len(ends):
        return
    last = min(bisect.bisect_left(ends, offset + limit), len(ends) - 1)
    before = ends[first - 1] if first else 0
    yield from _page_of_blocks(read(list(range(first, last + 1))), offset - before, limit)


class _ChunkRows:
    """The row ends of chunked parts (see :func:`_page_of_chunks`), by part SHA-256.

    A part's address is the hash of its bytes, so its chunks never change: reading its chunk
    list once serves every page. At most ``size`` parts are kept (a few hundred KB each for
    a 50,000-row table), the least recently used dropped first.
    """

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._ends: OrderedDict[str, array[int] | None] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: ChunkedPartReader, sha256: str) -> array[int] | None:
        """The part's row ends, or ``None`` when the store keeps the part whole."""
        with self._lock:
            if sha256 in self._ends:
                self._ends.move_to_end(sha256)
                return self._ends[sha256]
        chunks = store.part_chunks(sha256)
        ends = None if chunks is None else array("q", itertools.accumulate(chunks.rows))
        with self._lock:
            self._ends[sha256] = ends
            while len(self._ends) > self.size:
                self._ends.popitem(last=False)
        return ends


class CurrentEndpoint:
    """``GET /api/current`` as a bare ASGI endpoint, the API's most frequent read.

    It answers from :class:`snapkit.serve.api_views.CurrentCache` (the pointer re-read at
    most every ``POINTER_RECHECK`` s, in a worker thread) with the summary encoded once per
    pointer generation; per request it only encodes the age and checks ``If-None-Match``,
    without building a request or a response object. One request at a time re-reads the
    pointer: requests arriving meanwhile answer with what the cache had (at most one
    pointer read later than ``POINTER_RECHECK``) instead of each hopping to a thread. The
    answer is the same as a ``JSONBody`` of ``{**summary, "age_seconds": ..., "current":
    true}``; errors (no snapshot yet) go to the app's exception handlers like any route's.
    """

    def __init__(self, state: ServeState) -> None:
        self.state = state
        self._headers: tuple[str, list[tuple[bytes, bytes]]] | None = None
        self._checking: anyio.Event | None = None

    async def _current(self) -> CurrentSummary:
        cache = self.state.current
        while True:
            current = cache.recent(POINTER_RECHECK)
            if current is not None:
                return current
            checking = self._checking
            if checking is None:
                break
            last = cache.last()
            if last is not None:  # another request is re-reading the pointer
                return last
            await checking.wait()
        self._checking = checking = anyio.Event()
        try:
            current = await run_in_threadpool(cache.get, self.state.project)
        finally:
            self._checking = None
            checking.set()
        return current

    def _etag_headers(self, snapshot_id: str) -> list[tuple[bytes, bytes]]:
        cached = self._headers
        if cached is None or cached[0] != snapshot_id:
            raw = [
                (k.lower().encode(), v.encode())
                for k, v in params.etag_headers(snapshot_id).items()
            ]
            cached = self._headers = (snapshot_id, raw)
        return cached[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = await self._current()
        manifest = current.manifest
        headers = self._etag_headers(manifest.id)
        for name, value in scope["headers"]:
            if name == b"if-none-match" and params.names_etag(value.decode("latin-1"), manifest.id):
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
        body = current.answer(_age(manifest.created_at))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Api:
    """The route handlers, sharing the server's state."""

    def __init__(self, state: ServeState) -> None:
        self.state = state
        self.project = state.project
        self._openapi: bytes | None = None
        self._part_readers = anyio.Semaphore(PART_READERS)
        self._chunk_rows = _ChunkRows()

    # -- helpers ---------------------------------------------------------------------------

    def _resolve(self, ref: str) -> SnapshotManifest:
        if ref == "current":  # the cached manifest, checked against the pointer
            return self.state.current.get(self.project).manifest
        manifest: SnapshotManifest = self.project.resolve(ref)
        return manifest

    async def _snapshot(self, request: Request, name: str = "ref") -> SnapshotManifest:
        ref = params.ref(request.path_params.get(name), name)
        return await run_in_threadpool(self._resolve, ref)

    # -- routes ----------------------------------------------------------------------------

    async def openapi(self, request: Request) -> Response:
        if self._openapi is None:
            from snapkit.serve.errors import json_bytes
            from snapkit.serve.openapi import document

            self._openapi = json_bytes(document())
        return Response(self._openapi, media_type="application/json")

    async def snapshots(self, request: Request) -> Response:
        from snapkit.store import ListFilter

        statuses = request.query_params.getlist("status")
        for status in statuses:
            if status not in {"success", "partial", "failed"}:
                raise ApiError(400, "bad_parameter", "status must be success, partial or failed")
        since = _time(params.text(request, "since"), "since")
        until = _time(params.text(request, "until"), "until")
        namespace = params.text(request, "namespace", max_length=200)
        limit = params.integer(request, "limit", LIST_LIMIT, minimum=1, maximum=LIST_MAX)
        assert limit is not None
        cursor = _cursor(params.text(request, "cursor"))
        if cursor is not None:
            moment = _cursor_time(cursor)
            until = (
                moment + _dt.timedelta(microseconds=1)
                if until is None
                else min(until, moment + _dt.timedelta(microseconds=1))
            )
        filters = ListFilter(status=tuple(statuses), namespace=namespace, since=since, until=until)

        def read() -> tuple[list[Any], str | None]:
            want = None if cursor is not None else limit + 1
            listed = self.project.snapshots(filters, want)
            if cursor is not None:
                listed = [i for i in listed if (i.created_at, i.id) < cursor]
            pointer = self.project.store.read_pointer()
            return listed, pointer.snapshot_id if pointer else None

        listed, current_id = await run_in_threadpool(read)
        page, more = listed[:limit], len(listed) > limit
        next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
        return JSONBody(
            {
                "snapshots": [info(i, current_id) for i in page],
                "current_id": current_id,
                "next_cursor": next_cursor,
            }
        )

    async def snapshot(self, request: Request) -> Response:
        manifest = await self._snapshot(request)
        if params.fresh(request, manifest.id):
            return params.not_modified(manifest.id)
        pointer = await run_in_threadpool(self.project.store.read_pointer)
        current = pointer is not None and pointer.snapshot_id == manifest.id
        return JSONBody(
            {**summary(manifest), "age_seconds": _age(manifest.created_at), "current": current},
            headers=params.etag_headers(manifest.id),
        )

    async def records(self, request: Request) -> Response:
        from snapkit.store import ChunkedPartReader, PartBlockReader, SnapshotStore

        manifest = await self._snapshot(request)
        table = params.name(request.path_params.get("table"), "table")
        offset = params.integer(request, "offset", 0, minimum=0)
        limit = params.integer(request, "limit", RECORDS_LIMIT, minimum=1, maximum=RECORDS_MAX)
        assert offset is not None and limit is not None
        part = next((p for p in manifest.parts if p.name == table), None)
        if part is None:
            raise ApiError(
                404,
                "unknown_table",
                f"snapshot {manifest.id[:12]} has no table {table!r}",
                hint="its tables: " + (", ".join(p.name for p in manifest.parts) or "none"),
            )
        if params.fresh(request, manifest.id):
            return params.not_modified(manifest.id)
        store: SnapshotStore = self.project.store

        def lines() -> Iterator[bytes]:
            if offset >= part.records:
                return
            if isinstance(store, ChunkedPartReader):
                ends = self._chunk_rows.get(store, part.sha256)
                if ends is not None:  # None: this part is stored whole
                    read = functools.partial(store.iter_chunks, part.sha256)
                    yield from _page_of_chunks(ends, read, offset, limit)
                    return
            if isinstance(store, PartBlockReader):
                yield from _page_of_blocks(store.iter_part_blocks(part.sha256), offset, limit)
                return
            selected = itertools.islice(store.iter_part_lines(part.sha256), offset, offset + limit)
            yield from _chunks(iter(selected))

        async def body() -> AsyncIterator[bytes]:
            async with self._part_readers:
                async for chunk in iterate_in_threadpool(lines()):
                    yield chunk

        headers = {
            **params.etag_headers(manifest.id),
            "X-Snapkit-Snapshot": manifest.id,
            "X-Total-Count": str(part.records),
        }
        return StreamingResponse(body(), media_type="application/x-ndjson", headers=headers)

    async def projections(self, request: Request) -> Response:
        manifest = await self._snapshot(request)
        keys = [
            str(params.name(k, "projection")) for k in request.query_params.getlist("projection")
        ]
        filters = params.filters(request)
        if params.fresh(request, manifest.id):
            return params.not_modified(manifest.id)

        def derive() -> Any:
            from snapkit.convert import to_json

            registry = self.project.manager.registry("projection")
            for key in keys:
                if key not in registry:
                    known = ", ".join(sorted(registry.keys())) or "none"
                    raise ApiError(
                        404,
                        "unknown_projection",
                        f"no projection {key!r}",
                        hint=f"known projections: {known}",
                    )
            derived = self.project.derive(manifest, keys=keys or None, filters=filters)
            return {
                "snapshot_id": manifest.id,
                "filters": to_json(derived.filters),
                "projections": {key: to_json(result) for key, result in derived.results.items()},
            }

        body = await run_in_threadpool(derive)
        return JSONBody(body, headers=params.etag_headers(manifest.id))

    async def export(self, request: Request) -> Response:
        manifest = await self._snapshot(request)
        profile = params.name(params.text(request, "profile"), "profile", required=False)
        filters = params.filters(request)
        if profile is None:
            from snapkit.export import profiles

            known = ", ".join(profiles(self.project.manager)) or "none"
            raise ApiError(
                400, "missing_parameter", "profile is required", hint=f"known profiles: {known}"
            )
        if params.fresh(request, manifest.id):
            return params.not_modified(manifest.id)

        def build() -> tuple[bytes, Any]:
            out = io.BytesIO()
            outcome = self.project.export(profile, out, manifest, filters=filters)
            return out.getvalue(), outcome

        data, outcome = await run_in_threadpool(build)
        name = f"{profile}-{manifest.id[:12]}.zip"
        headers = {
            **params.etag_headers(manifest.id),
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Export-Status": outcome.status,
            "X-Export-Sha256": outcome.sha256,
        }
        return Response(data, media_type="application/zip", headers=headers)

    async def diff(self, request: Request) -> Response:
        from_ref = params.ref(params.text(request, "from"), "from")
        to_ref = params.ref(params.text(request, "to"), "to")
        sections = [str(params.name(s, "section")) for s in request.query_params.getlist("section")]
        max_items = params.integer(request, "max_items", None, minimum=0)
        a, b = await run_in_threadpool(lambda: (self._resolve(from_ref), self._resolve(to_ref)))
        etag = f"{a.id}..{b.id}"
        if params.fresh(request, etag):
            return params.not_modified(etag)

        def compute() -> bytes:
            from snapkit.diff import diff_bytes

            result = self.project.diff(a.id, b.id, sections=sections or None, max_items=max_items)
            return diff_bytes(result)

        data = await run_in_threadpool(compute)
        blocks = (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))
        return StreamingResponse(
            blocks, media_type="application/json", headers=params.etag_headers(etag)
        )

    async def search(self, request: Request) -> Response:
        table = params.name(params.text(request, "table"), "table")
        assert table is not None
        query = params.text(request, "q", required=True)
        ref = params.ref(params.text(request, "snapshot") or "current", "snapshot")
        offset = params.integer(request, "offset", 0, minimum=0)
        limit = params.integer(request, "limit", SEARCH_LIMIT, minimum=1, maximum=SEARCH_MAX)
        ignore_case = params.boolean(request, "ignore_case", False)
        use_index = params.boolean(request, "index", True)
        assert offset is not None and limit is not None and query is not None
        manifest = await run_in_threadpool(self._resolve, ref)
        if params.fresh(request, manifest.id):
            return params.not_modified(manifest.id)

        def find() -> Any:
            views = self.project.manager.registry("search_view")
            tables = {p.name for p in manifest.parts}
            if table not in tables and table not in views:
                known = ", ".join(sorted(tables | set(views.keys()))) or "none"
                raise ApiError(
                    404,
                    "unknown_table",
                    f"snapshot {manifest.id[:12]} has no table or search view {table!r}",
                    hint=f"search one of: {known}",
                )
            return self.project.search(
                table,
                query,
                ref=manifest.id,
                offset=offset,
                limit=limit,
                ignore_case=ignore_case,
                use_index=use_index,
            )

        result = await run_in_threadpool(find)
        body = {
            "snapshot_id": result.snapshot_id,
            "table": result.table,
            "query": result.query,
            "offset": result.offset,
            "limit": result.limit,
            "more": result.more,
            "scanned": result.scanned,
            "index": result.used_index,
            "rows": list(result.rows),
        }
        return JSONBody(body, headers=params.etag_headers(manifest.id))


# -- list cursors ----------------------------------------------------------------------------


def _time(value: str | None, name: str) -> _dt.datetime | None:
    if value is None:
        return None
    from snapkit.contracts import parse_time

    try:
        return parse_time(value)
    except (ValueError, TypeError):
        raise ApiError(400, "bad_parameter", f"{name} is not an ISO date or time") from None


def _encode_cursor(created_at: str, snapshot_id: str) -> str:
    import base64

    raw = f"{created_at}|{snapshot_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _cursor(value: str | None) -> tuple[str, str] | None:
    """Decode a list cursor (the created_at and id of the last snapshot of a page)."""
    if value is None:
        return None
    import base64
    import binascii

    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(
            400,
            "bad_cursor",
            "cursor is not one this API gave",
            hint="pass next_cursor from the previous page unchanged",
        ) from None
    created_at, sep, snapshot_id = raw.partition("|")
    if not sep or not params.REF.match(snapshot_id):
        raise ApiError(
            400,
            "bad_cursor",
            "cursor is not one this API gave",
            hint="pass next_cursor from the previous page unchanged",
        )
    _cursor_time((created_at, snapshot_id))
    return created_at, snapshot_id


def _cursor_time(cursor: tuple[str, str]) -> _dt.datetime:
    from snapkit.contracts import parse_time

    try:
        return parse_time(cursor[0])
    except (ValueError, TypeError):
        raise ApiError(
            400,
            "bad_cursor",
            "cursor is not one this API gave",
            hint="pass next_cursor from the previous page unchanged",
        ) from None
