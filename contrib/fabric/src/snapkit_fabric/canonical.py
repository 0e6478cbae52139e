"""Canonical JSON: the one byte form used for hashing and for comparing outputs.

Sorted keys, no insignificant whitespace (separators ``(",", ":")``), non-ASCII characters
kept as UTF-8 (``ensure_ascii=False``). Only plain JSON values are accepted: ``dict`` with
``str`` keys, ``list``, ``str``, ``int``, finite ``float``, ``bool`` and ``None``.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["CanonicalJSONError", "canonical_json"]


class CanonicalJSONError(ValueError):
    """A value cannot be written as canonical JSON; the message names its path."""


def canonical_json(value: Any) -> bytes:
    """Return the canonical JSON encoding of *value* as UTF-8 bytes.

    :param value: a plain JSON value.
    :returns: the canonical bytes.
    :raises CanonicalJSONError: when *value* holds something JSON cannot represent exactly
        (a non-string key, NaN or an infinity, a tuple, a set, any other object).
    """
    _check(value, "$")
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _check(value: Any, path: str) -> None:
    """Raise :class:`CanonicalJSONError` unless *value* is a plain JSON value."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CanonicalJSONError(f"{path} is {value!r}; JSON has no NaN or infinity")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(
                    f"{path} has a key {key!r} of type {type(key).__name__}; "
                    "JSON object keys must be strings"
                )
            _check(item, f"{path}.{key}")
        return
    raise CanonicalJSONError(
        f"{path} is a {type(value).__name__}; only dict, list, str, int, float, bool and "
        "None can be written as JSON"
    )
