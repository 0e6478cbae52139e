"""The one cattrs converter for snapkit's contracts, and JSON helpers built on it."""

from __future__ import annotations

from typing import Any, TypeVar

import cattrs

from snapkit.canonical import canonical_bytes, loads
from snapkit.errors import ContractError

T = TypeVar("T")

converter = cattrs.Converter(forbid_extra_keys=False)
"""Structures JSON-able data into contracts and back. Configure it here, nowhere else."""


def to_json(value: Any) -> Any:
    """Return the JSON-able form of a contract (or of plain data, unchanged)."""
    return converter.unstructure(value)


def from_json(data: Any, cls: type[T]) -> T:
    """Build a ``cls`` contract from its JSON form.

    :raises ContractError: naming the class and the first problem, if ``data`` does not fit.
    """
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        detail = _first_problem(exc)
        raise ContractError(
            f"invalid {cls.__name__} JSON: {detail}",
            hint="the data was written by another snapkit version or was damaged",
        ) from None


def dumps(value: Any) -> bytes:
    """Return the canonical JSON bytes of a contract or plain value."""
    return canonical_bytes(to_json(value))


def parse(data: bytes | str, cls: type[T]) -> T:
    """Parse JSON text into a ``cls`` contract."""
    try:
        raw = loads(data)
    except ValueError as exc:
        raise ContractError(f"invalid {cls.__name__} JSON: {exc}") from None
    return from_json(raw, cls)


def identity_json(manifest: Any) -> dict[str, Any]:
    """Return the part of a snapshot manifest its id is computed from (no capture time, no run)."""
    data: dict[str, Any] = to_json(manifest)
    data.pop("created_at", None)
    data.pop("run", None)
    return data


def _first_problem(exc: BaseException) -> str:
    if isinstance(exc, cattrs.BaseValidationError):
        notes = cattrs.transform_error(exc)
        if notes:
            return str(notes[0])
    return str(exc) or type(exc).__name__
