"""Households: which students each guardian has, and which guardians each student has.

OneRoster links a student and a guardian through ``agents`` on either side, and providers
often fill only one side. :func:`build_households` resolves both directions: a guardian's
children are the students in the guardian's ``agents`` plus the students that list the
guardian in theirs. Ids that name no user of the right role are left out. Every list is
deduplicated and sorted. Works on REST records and on normalized ones alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from snapkit_oneroster.schema import GUARDIAN_ROLES, STUDENT_ROLES


@attrs.frozen
class Households:
    """Both directions of the student-guardian links.

    :ivar children: guardian sourcedId -> sorted student sourcedIds (guardians with none
        are left out).
    :ivar guardians: student sourcedId -> sorted guardian sourcedIds (students with none are
        left out).
    """

    children: Mapping[str, tuple[str, ...]]
    guardians: Mapping[str, tuple[str, ...]]

    def children_of(self, guardian_id: str) -> tuple[str, ...]:
        """The students of a guardian, sorted (empty when unknown)."""
        return self.children.get(guardian_id, ())

    def guardians_of(self, student_id: str) -> tuple[str, ...]:
        """The guardians of a student, sorted (empty when unknown)."""
        return self.guardians.get(student_id, ())


def agent_ids(user: Mapping[str, Any]) -> list[str]:
    """The sourcedIds in a user's ``agents`` (GUIDRefs or bare ids)."""
    out = []
    for agent in user.get("agents") or ():
        sourced_id = agent.get("sourcedId") if isinstance(agent, Mapping) else agent
        if isinstance(sourced_id, str) and sourced_id:
            out.append(sourced_id)
    return out


def build_households(users: Iterable[Mapping[str, Any]]) -> Households:
    """Resolve the student-guardian links of a set of users, both directions.

    Reads each user's ``sourcedId``, ``role`` and ``agents`` only, in one pass.
    """
    students: set[str] = set()
    guardians: set[str] = set()
    pairs: set[tuple[str, str]] = set()  # (guardian, student), unchecked
    for user in users:
        sourced_id = user.get("sourcedId")
        if not isinstance(sourced_id, str):
            continue
        role = user.get("role")
        if role in STUDENT_ROLES:
            students.add(sourced_id)
            pairs.update((agent, sourced_id) for agent in agent_ids(user))
        elif role in GUARDIAN_ROLES:
            guardians.add(sourced_id)
            pairs.update((sourced_id, agent) for agent in agent_ids(user))
    children: dict[str, set[str]] = {}
    parents: dict[str, set[str]] = {}
    for guardian, student in pairs:
        if guardian in guardians and student in students:
            children.setdefault(guardian, set()).add(student)
            parents.setdefault(student, set()).add(guardian)
    return Households(
        children={g: tuple(sorted(s)) for g, s in sorted(children.items())},
        guardians={s: tuple(sorted(g)) for s, g in sorted(parents.items())},
    )


def children_of(users: Iterable[Mapping[str, Any]], guardian_id: str) -> tuple[str, ...]:
    """The students of one guardian, sorted (see :func:`build_households`)."""
    return build_households(users).children_of(guardian_id)


def guardians_of(users: Iterable[Mapping[str, Any]], student_id: str) -> tuple[str, ...]:
    """The guardians of one student, sorted (see :func:`build_households`)."""
    return build_households(users).guardians_of(student_id)
