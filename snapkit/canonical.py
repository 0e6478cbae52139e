"""Canonical JSON and SHA-256 identities.

Canonical JSON is the byte form every snapkit id is computed from: keys sorted, no
insignificant whitespace, UTF-8, no NaN or infinity. The same value always gives the same
bytes, whatever order its mappings were built in.
"""

from __future__ import annotations

import hashlib
import json
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
