"""With several workers, the routes that keep state in the process are answered by one.

``snapkit serve --workers N`` (see :mod:`snapkit.serve.workers` and docs/serve.md, "Workers")
runs N processes answering on one port. The read routes answer from the store, the
same in every process. The refresh routes (the admin refresh, its rate limit, the runs and
their event streams, the refresh status), the status page (its badge shows the run) and the
live dashboard (its per-page-load sessions) keep state in the process that answers them, so
the first worker -- the *owner* -- answers them all: the other workers forward those requests
to it over a Unix socket in a private directory (:class:`ForwardToOwner`), streaming the
answer back as it comes (event streams included).

A forwarded request carries the client's address in the ``X-Snapkit-Forwarded`` header,
with a secret drawn by the parent for this server; the owner takes the address from it only
when the secret matches (:class:`TrustForwarded`), and drops the header from every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from typing import TYPE_CHECKING

import h11

from snapkit.serve.errors import ApiError, error_response

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("snapkit.serve")

HEADER = b"x-snapkit-forwarded"
"""The header a forwarded request carries: ``<secret> <client host> <client port>``."""

OWNER_PATHS = frozenset({"/", "/dashboard", "/api/refresh", "/api/admin/refresh"})
"""The routes the owner answers, by exact path ..."""

OWNER_PREFIXES = ("/api/refresh/runs/", "/api/dashboard/")
"""... and by prefix (a run's progress and events, the live dashboard's event streams)."""

_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        HEADER,
    }
)
"""Headers that concern one connection (or that this module sets), never passed on."""

_NOT_RELAYED = (_HOP - {b"content-length"}) | {b"date", b"server"}
"""Headers of the owner's answer not passed on (this worker's server sets its own)."""

READ_SIZE = 64 * 1024

MAX_BODY = 64 * 1024
"""The largest request body forwarded (the owner's routes read none)."""


def owned(path: str) -> bool:
    """``True`` for a path the owner answers (state kept in its process)."""
    return path in OWNER_PATHS or path.startswith(OWNER_PREFIXES)


class TrustForwarded:
    """The owner's wrapper: a request forwarded by another worker gets its client's address
    back; the header is removed from every request.

    :param secret: the server's forwarding secret (never logged).
    """

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self._secret = secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            forwarded = [value for name, value in headers if name == HEADER]
            if forwarded:  # in place: uvicorn's access log then shows the client too
                scope["headers"] = [(n, v) for n, v in headers if n != HEADER]
                secret, _, client = forwarded[0].partition(b" ")
                host, _, port = client.rpartition(b" ")
                if hmac.compare_digest(secret, self._secret) and port.isdigit():
                    scope["client"] = (host.decode("latin-1"), int(port))
        await self.app(scope, receive, send)


class ForwardToOwner:
    """Another worker's wrapper: requests for :func:`owned` paths go to the owner's Unix
    socket; every other request is answered here.

    :param path: the owner's Unix socket.
    :param secret: the server's forwarding secret.
    """

    def __init__(self, app: ASGIApp, path: str, secret: str) -> None:
        self.app = app
        self.path = path
        self._secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not owned(scope["path"]):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                error = ApiError(
                    413, "body_too_large", "the request body is too large for this route"
                )
                await error_response(error)(scope, receive, send)
                return
        try:
            reader, writer = await asyncio.open_unix_connection(self.path)
        except OSError as exc:
            log.error("the owner worker does not answer: %s", type(exc).__name__)
            await error_response(_unavailable())(scope, receive, send)
            return
        started: list[bool] = []

        async def sent(message: Message) -> None:
            started.append(True)
            await send(message)

        relay = asyncio.ensure_future(self._relay(scope, body, reader, writer, sent))
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            await asyncio.wait({relay, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (relay, gone):
                task.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        if not relay.done() or relay.cancelled() or relay.exception() is None:
            return
        if started:  # the answer had begun: end it (the client sees a cut answer)
            raise relay.exception()  # type: ignore[misc]
        log.error("the owner worker failed to answer: %s", type(relay.exception()).__name__)
        await error_response(_unavailable())(scope, receive, send)

    def _request(self, scope: Scope, body: bytes) -> h11.Request:
        target = scope.get("raw_path") or scope["path"].encode()
        if scope.get("query_string"):
            target += b"?" + scope["query_string"]
        headers = [(n, v) for n, v in scope["headers"] if n not in _HOP]
        if not any(n == b"host" for n, _ in headers):
            headers.append((b"host", b"snapkit"))
        client = scope.get("client")
        if client:
            headers.append((HEADER, f"{self._secret} {client[0]} {client[1]}".encode()))
        headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        return h11.Request(method=scope["method"], target=target, headers=headers)

    async def _relay(
        self,
        scope: Scope,
        body: bytes,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        send: Send,
    ) -> None:
        connection = h11.Connection(h11.CLIENT)
        data = connection.send(self._request(scope, body))
        if body:
            data += connection.send(h11.Data(data=body))
        data += connection.send(h11.EndOfMessage())
        writer.write(data)
        await writer.drain()
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                connection.receive_data(await reader.read(READ_SIZE))  # b"": the owner closed
                continue
            message: Message
            if isinstance(event, h11.Response):
                headers = [(n, v) for n, v in event.headers if n not in _NOT_RELAYED]
                message = {"type": "http.response.start", "status": event.status_code}
                await send({**message, "headers": headers})
            elif isinstance(event, h11.Data):
                await send(
                    {"type": "http.response.body", "body": bytes(event.data), "more_body": True}
                )
            elif isinstance(event, h11.EndOfMessage):
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the owner worker closed the connection mid-answer")


def _unavailable() -> ApiError:
    return ApiError(
        503,
        "owner_unavailable",
        "the server's first worker, which answers this route, is not answering",
        hint="retry in a moment; if it persists, restart snapkit serve",
    )


async def _disconnected(receive: Receive) -> None:
    """Return once the client has gone (its stream should end at the owner too)."""
    while (await receive())["type"] != "http.disconnect":
        pass
