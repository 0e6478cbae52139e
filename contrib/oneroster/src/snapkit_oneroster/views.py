"""The ``guardians`` search view: parents and guardians, each with their children.

``snapkit search guardians familyName=Garcia`` finds the users with a guardian role
(:data:`~snapkit_oneroster.schema.GUARDIAN_ROLES`) that match the query and adds
``children`` to each: the students linked through ``agents`` in either direction (the
guardian lists the student, or the student lists the guardian), deduplicated, in sourcedId
order -- exactly what :func:`~snapkit_oneroster.relations.build_households` resolves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from snapkit_oneroster.relations import agent_ids, build_households
from snapkit_oneroster.schema import GUARDIAN_ROLES

Lookup = Callable[[str, str, Iterable[str]], Mapping[str, list[dict[str, Any]]]]

CHILD_FIELDS = ("sourcedId", "givenName", "familyName", "email", "identifier", "grades", "status")
"""The fields of each child shown under a guardian."""


class GuardiansView:
    """A :class:`snapkit.descriptors.SearchViewDescriptor` implementation over ``users``."""

    table = "users"

    def accepts(self, record: Mapping[str, Any]) -> bool:
        """Whether a user is a parent or guardian."""
        return record.get("role") in GUARDIAN_ROLES

    def expand(self, rows: Sequence[Mapping[str, Any]], lookup: Lookup) -> list[dict[str, Any]]:
        """Each guardian row with ``children`` added (two streaming lookups in all)."""
        if not rows:
            return []
        guardian_ids = [str(row["sourcedId"]) for row in rows]
        listed = sorted({child for row in rows for child in agent_ids(row)})
        by_id = lookup(self.table, "sourcedId", listed)
        listing = lookup(self.table, "agents.sourcedId", guardian_ids)
        students: dict[str, Mapping[str, Any]] = {}
        for found in (*by_id.values(), *listing.values()):
            for record in found:
                students[str(record["sourcedId"])] = record
        households = build_households([*rows, *students.values()])
        expanded = []
        for row in rows:
            children = [
                {name: students[child].get(name) for name in CHILD_FIELDS}
                for child in households.children_of(str(row["sourcedId"]))
            ]
            expanded.append({**row, "children": children})
        return expanded
