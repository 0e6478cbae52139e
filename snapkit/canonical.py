"""Canonical JSON and SHA-256 identities.

Canonical JSON is the byte form every snapkit id is computed from: keys sorted, no
insignificant whitespace, UTF-8, no NaN or infinity. The same value always gives the same
bytes, whatever order its mappings were built in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from snapkit.errors import ContractError

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def canonical_str(value: Any) -> str:
    """Return the canonical JSON text of ``value``.

    :param value: a JSON-able value: dict with str keys, list, tuple, str, int, float, bool, None.
    :raises ContractError: if the value holds NaN, infinity, a non-str key or a non-JSON type.
    """
    try:
        _check_keys(value)
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise ContractError(
            f"value is not canonical JSON: {exc}",
            hint="use str keys and finite numbers only",
        ) from None


def _check_keys(value: Any) -> None:
    # json would silently turn 1, 1.5, True and None keys into strings: {1: x} and {"1": x}
    # would then share bytes and id. Canonical JSON refuses them instead.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise TypeError(f"keys must be str, not {type(key).__name__} ({key!r})")
                if isinstance(child, dict | list | tuple):
                    stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(child for child in item if isinstance(child, dict | list | tuple))


def canonical_bytes(value: Any) -> bytes:
    """Return the canonical JSON bytes (UTF-8) of ``value``."""
    try:
        return canonical_str(value).encode("utf-8")
    except UnicodeEncodeError:
        raise ContractError(
            "value is not canonical JSON: it holds a lone surrogate character",
            hint="strings must be valid Unicode",
        ) from None


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def content_id(value: Any) -> str:
    """Return the SHA-256 (hex) of the canonical JSON of ``value``: its content identity."""
    return sha256_hex(canonical_bytes(value))


def loads(data: bytes | str) -> Any:
    """Parse JSON text, refusing NaN and infinity as canonical JSON does."""

    def _refuse(token: str) -> Any:
        raise ContractError(f"JSON holds {token}, which canonical JSON does not allow")

    return json.loads(data, parse_constant=_refuse)


_FLOAT_MAX = 1.7976931348623157e308
_SCALARS = (str, bool, int, type(None))


def _writes_like_json(value: Any) -> bool:
    """Whether orjson writes ``value`` byte for byte as canonical JSON does.

    Checked exhaustively: every character is escaped alike, and finite floats agree except
    below 1e-4 in magnitude (orjson writes ``0.00006`` where Python writes ``6e-05``); NaN and
    infinity (which orjson writes as ``null``), subclasses and other types go the slow way.
    Integers beyond 64 bits make orjson raise, which also sends them the slow way.
    """
    stack = [value]
    pop, push = stack.pop, stack.append
    while stack:
        item = pop()
        cls = item.__class__
        if cls in _SCALARS:
            continue
        if cls is float:
            if item != 0.0 and not 1e-4 <= abs(item) <= _FLOAT_MAX:
                return False
        elif cls is dict:
            for key, member in item.items():
                if key.__class__ is not str:
                    return False
                push(member)
        elif cls is list or cls is tuple:
            stack.extend(item)
        else:
            return False
    return True


def line_encoder() -> Callable[[Any], bytes]:
    """Return a function giving a value's canonical JSON bytes, as :func:`canonical_bytes`.

    With the optional ``orjson`` installed (``snapkit[fast]``) values orjson writes exactly
    as canonical JSON are encoded by it, several times faster; everything else, and every
    error, goes through :mod:`json`, so the bytes (and every hash) are the same either way.
    """
    try:
        import orjson
    except ImportError:
        return canonical_bytes
    dumps, option, error = orjson.dumps, orjson.OPT_SORT_KEYS, orjson.JSONEncodeError
    safe = _writes_like_json

    def encode(value: Any) -> bytes:
        if safe(value):
            try:
                data: bytes = dumps(value, option=option)
                return data
            except error:
                pass
        return canonical_bytes(value)

    return encode
