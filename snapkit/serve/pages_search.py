"""What the search page offers and shows: its targets, its form, and one result row as text.

The page searches a table or a search view of the current snapshot through
``project.search`` (indexed when an index exists). Seed 002's people searches are presets
over a ``users`` table with a ``role`` field (OneRoster's layout): students and teachers
are ``users`` rows with that role; parents and guardians come from the ``guardians`` view
(with their linked children) when a plugin registers it. A preset is offered only when its
table or view is there; every table and view of the snapshot can be searched as well.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from attrs import frozen

from snapkit.errors import UsageError
from snapkit.search_core import as_text

DEFAULT_LIMIT = 25
"""Rows per page of results."""


@frozen
class Target:
    """Something the page can search: a value for the form, a label, and what it searches.

    :param value: the form's value (``students``, ``table:users``, ``view:guardians``).
    :param table: the table or view name given to ``project.search``.
    :param fixed: query terms every search of this target adds (``role=student``).
    :param group: the heading it is listed under (``People``, ``Tables``, ``Views``).
    """

    value: str
    label: str
    table: str
    fixed: str = ""
    group: str = "People"


PRESETS = (
    Target("students", "Students", "users", "role=student"),
    Target("teachers", "Teachers", "users", "role=teacher"),
    Target("guardians", "Parents and guardians (with their children)", "guardians"),
)


def search_targets(manifest: Any, views: Iterable[str]) -> list[Target]:
    """The targets a snapshot offers: the presets whose table or view exists, then each
    table (part) and each registered view."""
    tables = sorted(part.name for part in manifest.parts)
    views = sorted(views)
    found = [p for p in PRESETS if (p.table in views if not p.fixed else p.table in tables)]
    found += [Target(f"table:{t}", t, t, group="Tables") for t in tables]
    found += [Target(f"view:{v}", v, v, group="Views") for v in views if v not in tables]
    return found


@frozen
class SearchForm:
    """The search form as submitted (``?in=TARGET&q=QUERY&exact=1&offset=N``)."""

    target: Target | None
    text: str
    exact: bool = False
    offset: int = 0
    submitted: bool = False

    @property
    def table(self) -> str:
        assert self.target is not None
        return self.target.table

    @property
    def query(self) -> str:
        """The query ``project.search`` runs: the target's fixed terms and the user's."""
        assert self.target is not None
        return " ".join(part for part in (self.target.fixed, self.text.strip()) if part)

    @property
    def selected(self) -> str:
        return self.target.value if self.target else ""

    def page(self, offset: int) -> str:
        """The query string of another page of the same search."""
        from urllib.parse import urlencode

        params = {"in": self.selected, "q": self.text}
        if self.exact:
            params["exact"] = "1"
        if offset:
            params["offset"] = str(offset)
        return urlencode(params)

    @classmethod
    def blank(cls, targets: Sequence[Target]) -> SearchForm:
        return cls(targets[0] if targets else None, "")

    @classmethod
    def from_params(cls, params: Mapping[str, str], targets: Sequence[Target]) -> SearchForm:
        """Read the form from the query string.

        :raises UsageError: for an unknown target or a bad offset.
        """
        text = params.get("q") or ""
        chosen = params.get("in") or ""
        exact = params.get("exact") in {"1", "on", "true"}
        by_value = {t.value: t for t in targets}
        if chosen and chosen not in by_value:
            raise UsageError(
                f"there is nothing called {chosen!r} to search in this snapshot",
                hint="pick one of the choices in the list",
            )
        target = by_value.get(chosen) or (targets[0] if targets else None)
        try:
            offset = int(params.get("offset") or 0)
        except ValueError:
            raise UsageError("the page offset must be a whole number") from None
        if offset < 0:
            raise UsageError("the page offset must be 0 or more")
        if target is None:
            return cls(None, text, exact, offset, False)
        submitted = "q" in params
        if submitted and not (target.fixed or text.strip()):
            raise UsageError(
                "the query is empty", hint="type a name, or a term such as familyName=Garcia"
            )
        return cls(target, text, exact, offset, submitted)


NAME_FIELDS = ("givenName", "familyName")
SHOWN_FIELDS = ("role", "email", "identifier", "grades", "username", "sourcedId", "status")
CHILD_SHOWN = ("grades", "identifier", "email")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(t for t in (as_text(v) for v in value) if t)
    return as_text(value) or ""


def _name(row: Mapping[str, Any]) -> str:
    name = " ".join(_text(row.get(f)) for f in NAME_FIELDS if _text(row.get(f)))
    if name:
        return name
    for key in ("name", "title", "sourcedId", "id", "key"):
        if _text(row.get(key)):
            return _text(row.get(key))
    scalars = [_text(v) for v in row.values() if not isinstance(v, dict | list)]
    return next((s for s in scalars if s), "(row)")


def row_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """One found row as the page shows it: a name, a few labelled fields, its children (if
    a view added them) and every field as JSON for those who need the rest."""
    import json

    fields = [(f, _text(row[f])) for f in SHOWN_FIELDS if f in row and _text(row[f])]
    if not fields:
        fields = [
            (k, _text(v))
            for k, v in row.items()
            if not isinstance(v, dict | list) and k not in NAME_FIELDS
        ][:6]
    children = []
    for child in row.get("children") or []:
        if isinstance(child, Mapping):
            facts = [(f, _text(child.get(f))) for f in CHILD_SHOWN if _text(child.get(f))]
            children.append({"name": _name(child), "facts": facts})
    shown = {k: v for k, v in row.items() if k != "children"}
    return {
        "name": _name(row),
        "fields": fields,
        "children": children,
        "has_children": "children" in row,
        "json": json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=True),
    }
