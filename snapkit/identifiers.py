"""Validation of the identifiers that end up in paths, URLs and file names.

Namespaces, part names and keys are short names; snapshot ids are 64 hex digits. Anything
else, in particular anything with ``/``, ``\\`` or ``..``, is refused before it reaches a path.
"""

from __future__ import annotations

import re

from snapkit.errors import InvalidIdentifierError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{64}$")
_ID_PREFIX = re.compile(r"^[0-9a-f]{1,64}$")


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a safe short name (letters, digits, ``. _ -``), else raise."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or ".." in value:
        raise InvalidIdentifierError(
            f"invalid {what} {value!r}",
            hint="use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return value


def check_snapshot_id(value: str) -> str:
    """Return ``value`` if it is a full snapshot id (64 lowercase hex digits), else raise."""
    if not isinstance(value, str) or not _SNAPSHOT_ID.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid snapshot id {value!r}", hint="a snapshot id is 64 lowercase hex digits"
        )
    return value


def check_id_prefix(value: str) -> str:
    """Return ``value`` if it can be a snapshot id prefix (1-64 lowercase hex digits)."""
    if not isinstance(value, str) or not _ID_PREFIX.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid snapshot id or prefix {value!r}",
            hint="give a snapshot id or a unique prefix of it (lowercase hex digits)",
        )
    return value


def is_snapshot_id(value: str) -> bool:
    """Return whether ``value`` is a full snapshot id."""
    return bool(_SNAPSHOT_ID.fullmatch(value))
