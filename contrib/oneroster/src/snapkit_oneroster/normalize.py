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
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    try:
        return _compiled(t)(raw)
    except (TypeError, ValueError):
        return _reference(t, raw, position)


def normalize_records(
    table_or_name: Table | str, raws: Iterable[Mapping[str, Any]], *, offset: int = 0
) -> list[dict[str, Any]]:
    """Normalize many records of a table (a page): the same as :func:`normalize_record` on
    each, in order, with positions counted from ``offset``.

    :raises RecordFormatError: for the first record that cannot be normalized.
    """
    t = table(table_or_name) if isinstance(table_or_name, str) else table_or_name
    fast = _compiled(t)
    raws = raws if isinstance(raws, list) else list(raws)
    try:
        return [fast(raw) for raw in raws]
    except (TypeError, ValueError):
        return [_reference(t, raw, offset + i) for i, raw in enumerate(raws)]


def iter_normalized(
    table_or_name: Table | str, raws: Iterable[Mapping[str, Any]], *, offset: int = 0
) -> Iterator[dict[str, Any]]:
    """Normalize records one at a time as they are asked for (see :func:`normalize_records`).

    A stream that hands each record on before normalizing the next keeps no normalized page
    alive, which spares the garbage collector the work of tracking one.
    """
    t = table(table_or_name) if isinstance(table_or_name, str) else table_or_name
    fast = _compiled(t)
    for position, raw in enumerate(raws, offset):
        try:
            yield fast(raw)
        except (TypeError, ValueError):
            yield _reference(t, raw, position)


def _reference(t: Table, raw: Mapping[str, Any], position: int | None) -> dict[str, Any]:
    """Normalize field by field with :func:`normalize_value`: the definition the compiled
    normalizers follow, and the path that names the field when a value does not fit."""
    out: dict[str, Any] = {}
    get = raw.get
    f = t.fields[0]
    try:
        for f in t.fields:
            out[f.name] = normalize_value(f, get(f.name))
    except (TypeError, ValueError) as exc:
        where = f" at position {position}" if position is not None else ""
        raise RecordFormatError(
            f"{t.name}.{f.name}{where}: {exc}; the source sent a value that is not a valid "
            f"{f.kind.value}; fix the source record or report it to the provider"
        ) from None
    return out


_WIRE_BOOLS = {"true": True, "false": False}
_COMPILED: dict[str, tuple[Table, Callable[[Mapping[str, Any]], dict[str, Any]]]] = {}


def _compiled(t: Table) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """The compiled normalizer of ``t`` (built on first use, once per table)."""
    entry = _COMPILED.get(t.name)
    if entry is None or entry[0] is not t:
        entry = _COMPILED[t.name] = (t, _compile(t))
    return entry[1]


def _compile(t: Table) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """Build one function normalizing a record of ``t``, its fields unrolled.

    Each field has an inline fast path for the shapes REST and CSV send (exact ``str``,
    ``bool``, finite ``float``, GUIDRef dicts, lists of those); anything else goes to
    :func:`normalize_value`, so the results are the same. A value that does not fit raises
    ``TypeError`` or ``ValueError``, and :func:`normalize_record` then names the field.
    Generated source (as :mod:`dataclasses` does) because a loop over per-field functions
    costs a call per field, which dominated the time of a whole-district refresh.
    """
    namespace: dict[str, Any] = {"_WIRE": _WIRE_BOOLS, "_isfinite": math.isfinite}
    lines = ["def normalize(raw):", "    get = raw.get"]
    for i, f in enumerate(t.fields):
        v, slow = f"v{i}", f"slow{i}"
        namespace[slow] = functools.partial(normalize_value, f)
        lines.append(f"    {v} = get({f.name!r})")
        if f.kind is Kind.TEXT:
            lines += [
                f"    if {v}.__class__ is str:",
                f"        if not {v}:",
                f"            {v} = None",
                f"    elif {v} is not None:",
                f"        {v} = {slow}({v})",
            ]
        elif f.kind is Kind.BOOL:
            lines += [
                f"    if {v}.__class__ is not bool:",
                f"        {v} = _WIRE[{v}] if {v}.__class__ is str and {v} in _WIRE "
                f"else {slow}({v})",
            ]
        elif f.kind is Kind.FLOAT:
            lines += [
                f"    if ({v}.__class__ is not float or not _isfinite({v})) and {v} is not None:",
                f"        {v} = {slow}({v})",
            ]
        elif f.kind is Kind.REF:
            namespace[f"type{i}"] = f.ref_type or ""
            lines += [
                f"    if {v}.__class__ is dict:",
                f"        s = {v}.get('sourcedId')",
                f"        {v} = {{'sourcedId': s, 'type': type{i}}} "
                f"if s.__class__ is str and s else {slow}({v})",
                f"    elif {v} is not None:",
                f"        {v} = {slow}({v})",
            ]
        else:
            namespace[f"many{i}"] = _many(f, namespace[slow])
            lines.append(f"    {v} = many{i}({v})")
    items = ", ".join(f"{f.name!r}: v{i}" for i, f in enumerate(t.fields))
    lines.append(f"    return {{{items}}}")
    exec("\n".join(lines), namespace)  # our own source, built from the table schema
    normalize: Callable[[Mapping[str, Any]], dict[str, Any]] = namespace["normalize"]
    normalize.__qualname__ = f"normalize_{t.name}"
    return normalize


def _many(f: Field, slow: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The normalizer of a list field (``REFS``, ``TEXTS``, ``USER_IDS``) of ``f``."""
    if f.kind is Kind.REFS:
        ref_type = f.ref_type or ""

        def refs(value: Any) -> Any:
            if value.__class__ is not list:
                return slow(value)
            out = []
            for item in value:
                sourced_id = item.get("sourcedId") if item.__class__ is dict else None
                if sourced_id.__class__ is not str or not sourced_id:
                    return slow(value)
                out.append({"sourcedId": sourced_id, "type": ref_type})
            return out

        return refs
    if f.kind is Kind.TEXTS:

        def texts(value: Any) -> Any:
            if value.__class__ is list:
                for item in value:
                    if item.__class__ is not str:
                        return slow(value)
                return [item for item in value if item]
            return slow(value)

        return texts
    if f.kind is Kind.USER_IDS:

        def user_ids(value: Any) -> Any:
            if value.__class__ is not list:
                return slow(value)
            out = []
            for item in value:
                if item.__class__ is not dict:
                    return slow(value)
                kind, identifier = item.get("type", ""), item.get("identifier", "")
                if kind.__class__ is not str or identifier.__class__ is not str:
                    return slow(value)
                out.append({"type": kind, "identifier": identifier})
            return out

        return user_ids
    return slow  # pragma: no cover - every kind is handled above


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
