"""One normalization for records from every binding.

:func:`normalize_record` turns a record as the REST API returns it, or a row as the CSV
binding holds it, into the same plain JSON value: exactly the table's fields, in the table's
order; empty text as ``None``; booleans as ``bool``; numbers as ``float``; references as
``{"sourcedId", "type"}`` (no ``href``, which depends on the server's address); lists as lists.
The REST client and the CSV reader both call it, so a snapshot built from either is the same.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from snapkit_oneroster.errors import RecordFormatError
from snapkit_oneroster.schema import Field, Kind, Table, table

_TRUE = frozenset({"true", "1", "yes", "t", "y"})
_FALSE = frozenset({"false", "0", "no", "f", "n"})
_USER_ID = re.compile(r"\{([^:{}]*):([^{}]*)\}")


def normalize_record(
    table_or_name: Table | str, raw: Mapping[str, Any], *, position: int | None = None
) -> dict[str, Any]:
    """Normalize one record of a table.

    :param table_or_name: the table (or its name) the record belongs to.
    :param raw: a REST JSON record, or a CSV row keyed by REST field name.
    :param position: the record's position in its stream, for error messages.
    :returns: a new dict with exactly the table's fields.
    :raises RecordFormatError: when a value cannot take its field's shape; the message names
        the table, field and position, never the value.
    """
    t = table(table_or_name) if isinstance(table_or_name, str) else table_or_name
    plan = _PLANS.get(t.name)
    if plan is None or plan[0] is not t:
        plan = _PLANS[t.name] = (t, tuple((f.name, _converter(f)) for f in t.fields))
    steps = plan[1]
    out: dict[str, Any] = {}
    get = raw.get
    name = ""
    try:
        for name, convert in steps:
            out[name] = convert(get(name))
    except (TypeError, ValueError) as exc:
        f = t.field(name)
        kind = f.kind.value if f is not None else "value"
        where = f" at position {position}" if position is not None else ""
        raise RecordFormatError(
            f"{t.name}.{name}{where}: {exc}; the source sent a value that is not a valid "
            f"{kind}; fix the source record or report it to the provider"
        ) from None
    return out


_WIRE_BOOLS = {"true": True, "false": False}
_PLANS: dict[str, tuple[Table, tuple[tuple[str, Callable[[Any], Any]], ...]]] = {}


def _converter(f: Field) -> Callable[[Any], Any]:
    """A function normalizing values of ``f``: fast paths for the shapes REST and CSV send,
    :func:`normalize_value` for everything else (same results)."""
    slow = functools.partial(normalize_value, f)
    ref_type = f.ref_type or ""
    if f.kind is Kind.TEXT:

        def text(value: Any) -> Any:
            if value.__class__ is str:
                return value or None
            return None if value is None else slow(value)

        return text
    if f.kind is Kind.BOOL:

        def boolean(value: Any) -> Any:
            if value.__class__ is bool:
                return value
            if value.__class__ is str and value in _WIRE_BOOLS:
                return _WIRE_BOOLS[value]
            return slow(value)

        return boolean
    if f.kind is Kind.FLOAT:

        def number(value: Any) -> Any:
            if value.__class__ is float and math.isfinite(value):
                return value
            return None if value is None else slow(value)

        return number
    if f.kind is Kind.REF:

        def ref(value: Any) -> Any:
            if value.__class__ is dict:
                sourced_id = value.get("sourcedId")
                if sourced_id.__class__ is str and sourced_id:
                    return {"sourcedId": sourced_id, "type": ref_type}
            return slow(value)

        return ref
    if f.kind is Kind.REFS:

        def refs(value: Any) -> Any:
            if value.__class__ is list:
                out = []
                for item in value:
                    sourced_id = item.get("sourcedId") if item.__class__ is dict else None
                    if sourced_id.__class__ is not str or not sourced_id:
                        return slow(value)
                    out.append({"sourcedId": sourced_id, "type": ref_type})
                return out
            return slow(value)

        return refs
    if f.kind is Kind.TEXTS:

        def texts(value: Any) -> Any:
            if value.__class__ is list and all(item.__class__ is str for item in value):
                return [item for item in value if item]
            return slow(value)

        return texts
    return slow


def normalize_value(f: Field, value: Any) -> Any:
    """Normalize one value to the shape of field ``f``.

    :raises ValueError: (without the value in the message) when the value does not fit.
    """
    match f.kind:
        case Kind.TEXT:
            return _text(value)
        case Kind.BOOL:
            return _bool(value)
        case Kind.FLOAT:
            return _float(value)
        case Kind.REF:
            return _ref(value, f.ref_type or "")
        case Kind.REFS:
            return [r for r in (_ref(v, f.ref_type or "") for v in _items(value)) if r is not None]
        case Kind.TEXTS:
            return [t for t in (_text(v) for v in _items(value)) if t is not None]
        case Kind.USER_IDS:
            return _user_ids(value)
    raise ValueError(f"unknown field kind {f.kind!r}")  # pragma: no cover


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        text = str(value)
        return text if text != "" else None
    raise TypeError(f"expected text, got a {type(value).__name__}")


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected a boolean such as 'true' or 'false'")
    raise TypeError(f"expected a boolean, got a {type(value).__name__}")


def _float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise TypeError("expected a number, got a boolean")
    if isinstance(value, (int, float, str)):
        number = float(value) if not isinstance(value, str) else _parse_float(value)
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        return number
    raise TypeError(f"expected a number, got a {type(value).__name__}")


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("expected a number") from None


def _ref(value: Any, ref_type: str) -> dict[str, str] | None:
    if value is None or value == "":
        return None
    sourced_id: Any
    if isinstance(value, str):
        sourced_id = value.strip()
    elif isinstance(value, Mapping):
        if not value:
            return None
        sourced_id = value.get("sourcedId")
        if not isinstance(sourced_id, str):
            raise ValueError("expected a GUIDRef with a string sourcedId")
    else:
        raise TypeError(f"expected a GUIDRef, got a {type(value).__name__}")
    if not sourced_id:
        return None
    return {"sourcedId": sourced_id, "type": ref_type}


def _items(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, (list, tuple)):
        return list(value)
    raise TypeError(f"expected a list, got a {type(value).__name__}")


def _user_ids(value: Any) -> list[dict[str, str]]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [{"type": m[1], "identifier": m[2]} for m in _USER_ID.finditer(value)]
    if isinstance(value, (list, tuple)):
        out = []
        for item in value:
            if not isinstance(item, Mapping):
                raise TypeError(f"expected userIds entries as objects, got a {type(item).__name__}")
            out.append(
                {"type": str(item.get("type", "")), "identifier": str(item.get("identifier", ""))}
            )
        return out
    raise TypeError(f"expected a list of userIds, got a {type(value).__name__}")
