"""The OneRoster 1.1 ``filter`` query parameter: parse it and match records against it.

Grammar: ``field op 'value'`` clauses joined by ``AND`` or by ``OR`` (not both), where ``op``
is one of ``=``, ``!=``, ``>``, ``>=``, ``<``, ``<=``, ``~`` (contains). ``field`` may name a
part of a reference, as in ``class.sourcedId``; a reference alone compares its sourcedId, and
a list matches when any of its items does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import attrs

OPERATORS = ("!=", ">=", "<=", "=", ">", "<", "~")

_CLAUSE = re.compile(r"\s*([A-Za-z_][\w.]*)\s*(!=|>=|<=|=|>|<|~)\s*'([^']*)'\s*")
_JOIN = re.compile(r"(AND|OR)(?=\s)", re.IGNORECASE)


class FilterSyntaxError(ValueError):
    """The filter text does not follow the grammar, or names an unknown field."""


@attrs.frozen
class Clause:
    """One comparison: ``field op 'value'``."""

    field: str
    op: str
    value: str

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` satisfies this comparison."""
        values = _values(record, self.field.split("."))
        if self.op == "!=":
            return all(v != self.value for v in values)
        return any(_compare(v, self.op, self.value) for v in values)


@attrs.frozen
class Filter:
    """Clauses joined by one logical operator."""

    clauses: tuple[Clause, ...]
    conjunction: str = "AND"

    @property
    def fields(self) -> frozenset[str]:
        """The top-level fields the filter reads."""
        return frozenset(c.field.split(".")[0] for c in self.clauses)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """Whether ``record`` passes the filter."""
        results = (c.matches(record) for c in self.clauses)
        return all(results) if self.conjunction == "AND" else any(results)


def parse_filter(text: str, known_fields: frozenset[str] | None = None) -> Filter:
    """Parse a filter expression.

    :param known_fields: when given, the top-level fields a clause may name.
    :raises FilterSyntaxError: naming the position or the field that is wrong.
    """
    clauses: list[Clause] = []
    joins: set[str] = set()
    pos = 0
    while True:
        m = _CLAUSE.match(text, pos)
        if m is None:
            raise FilterSyntaxError(
                f"filter: expected field op 'value' at character {pos} "
                f"(operators: {' '.join(OPERATORS)})"
            )
        clauses.append(Clause(m[1], m[2], m[3]))
        pos = m.end()
        if pos == len(text):
            break
        j = _JOIN.match(text, pos)
        if j is None:
            raise FilterSyntaxError(f"filter: expected AND or OR at character {pos}")
        joins.add(j[1].upper())
        pos = j.end()
    if len(joins) > 1:
        raise FilterSyntaxError("filter: AND and OR cannot be mixed in one filter")
    result = Filter(tuple(clauses), joins.pop() if joins else "AND")
    if known_fields is not None:
        unknown = sorted(result.fields - known_fields)
        if unknown:
            raise FilterSyntaxError(f"filter: unknown field(s) {', '.join(unknown)}")
    return result


def _values(value: Any, path: list[str]) -> list[str]:
    """Every scalar at ``path`` inside ``value``, as strings."""
    if isinstance(value, list):
        return [s for item in value for s in _values(item, path)]
    if isinstance(value, Mapping):
        if not path:
            return _values(value.get("sourcedId"), [])
        return _values(value.get(path[0]), path[1:])
    if value is None:
        return []
    if path:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


def _compare(actual: str, op: str, expected: str) -> bool:
    if op == "=":
        return actual == expected
    if op == "~":
        return expected.lower() in actual.lower()
    try:
        return _ordered(op, float(actual), float(expected))
    except ValueError:
        return _ordered(op, actual, expected)


def _ordered(op: str, left: Any, right: Any) -> bool:
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)
