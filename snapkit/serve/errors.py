"""Errors as the API answers them: JSON ``{"error": {"code", "message", "hint"}}``, never a
traceback. :func:`error_status` maps snapkit's typed errors to HTTP statuses."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from snapkit.errors import (
    AmbiguousSnapshotIdError,
    ConfigError,
    ContractError,
    ExportError,
    InvalidIdentifierError,
    LockHeldError,
    NoSnapshotError,
    SnapkitError,
    SnapshotNotFoundError,
    UnknownKeyError,
    UsageError,
)

log = logging.getLogger("snapkit.serve")

try:  # the fast extra: orjson writes JSON several times faster
    import orjson as _orjson

    def json_bytes(value: Any) -> bytes:
        """Serialize ``value`` as compact UTF-8 JSON."""
        return _orjson.dumps(value)
except ImportError:  # pragma: no cover - exercised only without the fast extra

    def json_bytes(value: Any) -> bytes:
        """Serialize ``value`` as compact UTF-8 JSON."""
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class JSONBody(Response):
    """A JSON response (serialized with orjson when installed)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


class ApiError(Exception):
    """An error the API answers with ``status`` and a JSON body.

    :param code: a snake_case code clients can branch on.
    :param extra: more members of the ``error`` object (e.g. ``holder``, ``exit_code``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.hint = hint
        self.headers = dict(headers or {})
        self.extra = extra


def error_body(code: str, message: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body of an error answer."""
    return {"error": {"code": code, "message": message, "hint": hint, **extra}}


def error_response(error: ApiError) -> Response:
    """Answer an :class:`ApiError`."""
    return JSONBody(
        error_body(error.code, error.message, error.hint, **error.extra),
        status_code=error.status,
        headers=error.headers,
    )


def _code(exc: BaseException) -> str:
    import re

    name = type(exc).__name__.removesuffix("Error") or "error"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def error_status(exc: SnapkitError) -> int:
    """The HTTP status of a snapkit error (see docs/serve.md, "Errors")."""
    if isinstance(exc, NoSnapshotError):
        return 503
    if isinstance(exc, SnapshotNotFoundError | UnknownKeyError):
        return 404
    if isinstance(exc, LockHeldError):
        return 409
    if isinstance(exc, ExportError):
        return 404 if exc.reason == "unknown_profile" else 422
    if isinstance(exc, UsageError | AmbiguousSnapshotIdError | ContractError | ConfigError):
        return 400
    return 500


def from_snapkit_error(exc: SnapkitError) -> ApiError:
    """The API error answering a snapkit error (its message and hint, a code from its type)."""
    status = error_status(exc)
    code = "no_snapshot" if isinstance(exc, NoSnapshotError) else _code(exc)
    if isinstance(exc, InvalidIdentifierError):
        code = "bad_ref"
    elif isinstance(exc, AmbiguousSnapshotIdError):
        code = "ambiguous_ref"
    elif isinstance(exc, UsageError):
        code = "bad_request"
    if isinstance(exc, ExportError):
        code = exc.reason
    extra: dict[str, Any] = {}
    if status == 503 or isinstance(exc, SnapshotNotFoundError):
        extra["exit_code"] = exc.exit_code
    if status == 500:
        log.error("%s while answering: %s", type(exc).__name__, exc.message)
    return ApiError(status, code, exc.message, hint=exc.hint, **extra)


async def handle_api_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`ApiError`."""
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def handle_snapkit_error(request: Request, exc: Exception) -> Response:
    """Starlette exception handler for :class:`snapkit.errors.SnapkitError`."""
    assert isinstance(exc, SnapkitError)
    return error_response(from_snapkit_error(exc))


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """The last resort: a JSON 500 naming the error type, the traceback only in the log."""
    log.error(
        "unexpected %s answering %s %s",
        type(exc).__name__,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return error_response(
        ApiError(500, "internal_error", f"unexpected {type(exc).__name__}; see the server log")
    )
