"""Canonical JSON and SHA-256 identities.

Canonical JSON is the byte form every snapkit id is computed from: keys sorted, no
insignificant whitespace, UTF-8, no NaN or infinity. The same value always gives the same
bytes, whatever order its mappings were built in.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import operator
from collections.abc import Callable, Iterable
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
    # A container met again is not walked again: a value that contains itself then reaches
    # json's encoder, which refuses it as a circular reference.
    stack = [value]
    seen: set[int] = set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise TypeError(f"keys must be str, not {type(key).__name__}")
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
_SCALAR_TYPES = frozenset(_SCALARS)
_LEAF_TYPES = _SCALAR_TYPES | {float}
_NOT_NONE = functools.partial(operator.is_not, None)
_MAX_CONTAINERS = 1_000_000
"""Containers :func:`_writes_like_json` walks before it gives up (and lets :mod:`json`, which
detects cycles, take the value): a self-containing list would otherwise never end the walk."""


def _floats_like_json(floats: Iterable[float]) -> bool:
    """Whether orjson writes every one of ``floats`` as canonical JSON does: finite, and zero
    or at least 1e-4 in magnitude (a few passes of C-level builtins, no Python loop)."""
    values = list(floats)
    if not values:
        return True
    # a plain sum is finite only if no value is NaN or infinite (an overflow to infinity
    # of finite values only sends them the slow way)
    if not math.isfinite(sum(values)):
        return False
    if min(values) < 0.0:
        values = list(map(abs, values))
    return min(filter(None, values), default=1.0) >= 1e-4


def _writes_like_json(value: Any) -> bool:
    """Whether orjson writes ``value`` byte for byte as canonical JSON does.

    Checked exhaustively: every character is escaped alike, and finite floats agree except
    below 1e-4 in magnitude (orjson writes ``0.00006`` where Python writes ``6e-05``); NaN and
    infinity (which orjson writes as ``null``), subclasses and other types go the slow way.
    Integers beyond 64 bits make orjson raise, which also sends them the slow way. A list of
    scalars is checked with builtins (its element types as a set) rather than item by item.
    When this returns ``True`` the value is also valid canonical JSON (see
    :func:`check_canonical`).
    """
    stack = [value]
    pop, push = stack.pop, stack.append
    containers = 0
    while stack:
        item = pop()
        cls = item.__class__
        if cls in _SCALARS:
            continue
        if cls is float:
            if item != 0.0 and not 1e-4 <= abs(item) <= _FLOAT_MAX:
                return False
            continue
        containers += 1
        if containers > _MAX_CONTAINERS:
            return False
        if cls is dict:
            for key, member in item.items():
                if key.__class__ is not str:
                    return False
                kind = member.__class__
                if kind in _SCALARS:  # (settled here: most members of a record are)
                    continue
                if kind is float:
                    if member != 0.0 and not 1e-4 <= abs(member) <= _FLOAT_MAX:
                        return False
                    continue
                push(member)
        elif cls is list or cls is tuple:
            kinds = set(map(type, item))
            if kinds <= _SCALAR_TYPES:
                continue
            if kinds <= _LEAF_TYPES:
                floats = (
                    item
                    if len(kinds) == 1
                    else (
                        filter(_NOT_NONE, item)
                        if kinds == {float, type(None)}
                        else [x for x in item if x.__class__ is float]
                    )
                )
                if not _floats_like_json(floats):
                    return False
                continue
            stack.extend(item)
        else:
            return False
    return True


def check_canonical(value: Any) -> None:
    """Check that ``value`` is canonical JSON (as :func:`canonical_str` would accept it)
    without encoding it when a walk of its types settles the question.

    :raises ContractError: as :func:`canonical_str` does.
    """
    if not _writes_like_json(value):
        canonical_str(value)


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
