"""Reading a request's parameters (checked, with 400s naming the parameter) and ETags."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from snapkit.serve.errors import ApiError

REF = re.compile(r"^(?:current(?:~\d{1,4})?|latest|\d{4}-\d{2}-\d{2}|[0-9a-f]{1,64})$")
"""The snapshot references the API takes (those :meth:`Project.resolve` takes)."""

REF_HINT = (
    "give a snapshot id or a unique prefix of it (lowercase hex), 'current', "
    "'current~N', 'latest' or a date YYYY-MM-DD"
)


def ref(value: str | None, name: str = "ref") -> str:
    """Check a snapshot reference; a malformed one (``../x``, ``current~-1``) is a 400."""
    if value is None or value == "":
        raise ApiError(400, "missing_parameter", f"{name} is required", hint=REF_HINT)
    if not REF.match(value):
        raise ApiError(400, "bad_ref", f"{name} is not a snapshot reference", hint=REF_HINT)
    return value


def integer(
    request: Request,
    name: str,
    default: int | None,
    *,
    minimum: int = 0,
    maximum: int | None = None,
) -> int | None:
    """An integer query parameter within bounds, else a 400 naming it."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_parameter", f"{name} must be an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = (
            f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        )
        raise ApiError(400, "bad_parameter", f"{name} must be {bounds}")
    return value


def boolean(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter (``true``/``false``, ``1``/``0``)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in {"true", "1", "yes"}:
        return True
    if lowered in {"false", "0", "no"}:
        return False
    raise ApiError(400, "bad_parameter", f"{name} must be true or false")


def text(
    request: Request, name: str, *, required: bool = False, max_length: int = 1000
) -> str | None:
    """A text query parameter."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, "missing_parameter", f"{name} is required")
        return None
    if len(raw) > max_length or "\x00" in raw:
        raise ApiError(400, "bad_parameter", f"{name} is not a usable value")
    return raw


NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def name(value: str | None, what: str, *, required: bool = True) -> str | None:
    """A table, view, projection or profile name: no path separators, no ``..``."""
    if value is None or value == "":
        if required:
            raise ApiError(400, "missing_parameter", f"{what} is required")
        return None
    if not NAME.match(value) or ".." in value:
        raise ApiError(
            400,
            "bad_name",
            f"{what} is not a valid name",
            hint="names are letters, digits, '_', '-' and '.'",
        )
    return value


def filters(request: Request) -> dict[str, Any]:
    """``filter=key=value`` parameters (repeatable), values read as JSON when they parse
    (as ``snapkit project --filter`` reads them)."""
    import json

    found: dict[str, Any] = {}
    for pair in request.query_params.getlist("filter"):
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ApiError(400, "bad_parameter", "filter must be key=value")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        found[key.strip()] = value
    return found


def quoted(etag: str) -> str:
    """An ETag header value."""
    return f'"{etag}"'


def fresh(request: Request, etag: str) -> bool:
    """``True`` if the request's ``If-None-Match`` already names ``etag``."""
    return names_etag(request.headers.get("if-none-match"), etag)


def names_etag(header: str | None, etag: str) -> bool:
    """``True`` if an ``If-None-Match`` header's value names ``etag`` (or is ``*``)."""
    if not header:
        return False
    if header.strip() == "*":
        return True
    wanted = quoted(etag)
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def not_modified(etag: str) -> Response:
    """The 304 answer for a fresh ETag."""
    return Response(status_code=304, headers=etag_headers(etag))


def etag_headers(etag: str) -> dict[str, str]:
    """The headers of an answer about a snapshot: its ETag, revalidated on every use."""
    return {"ETag": quoted(etag), "Cache-Control": "no-cache"}
