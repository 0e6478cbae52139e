"""Students and guardians resolved through agents, in both directions."""

from __future__ import annotations

from snapkit_oneroster.district import District
from snapkit_oneroster.normalize import normalize_record
from snapkit_oneroster.relations import build_households, children_of, guardians_of


def ref(sourced_id: str) -> dict:
    return {"href": f"/users/{sourced_id}", "sourcedId": sourced_id, "type": "user"}


USERS = [
    {"sourcedId": "g1", "role": "parent", "agents": [ref("s2"), ref("s1"), ref("s1")]},
    {"sourcedId": "g2", "role": "guardian", "agents": []},  # linked from the child's side only
    {"sourcedId": "g3", "role": "relative", "agents": [ref("nobody"), ref("t1")]},
    {"sourcedId": "s1", "role": "student", "agents": [ref("g1")]},
    {"sourcedId": "s2", "role": "student"},
    {"sourcedId": "s3", "role": "student", "agents": [ref("g2"), "g1"]},
    {"sourcedId": "t1", "role": "teacher", "agents": [ref("s1")]},
]


def test_parent_to_children_through_agents_on_either_side() -> None:
    households = build_households(USERS)
    assert households.children_of("g1") == ("s1", "s2", "s3")
    assert households.children_of("g2") == ("s3",)


def test_child_to_guardians_through_agents_on_either_side() -> None:
    households = build_households(USERS)
    assert households.guardians_of("s1") == ("g1",)
    assert households.guardians_of("s3") == ("g1", "g2")
    assert households.guardians_of("s2") == ("g1",)


def test_unknown_ids_and_non_guardian_roles_are_left_out() -> None:
    households = build_households(USERS)
    assert households.children_of("g3") == ()
    assert households.children_of("t1") == ()
    assert "nobody" not in households.guardians
    assert households.guardians_of("missing") == ()


def test_single_lookups_match_the_full_resolution() -> None:
    assert children_of(USERS, "g1") == ("s1", "s2", "s3")
    assert guardians_of(USERS, "s3") == ("g1", "g2")


def test_district_households_agree_in_both_directions() -> None:
    district = District.generate(seed=4, users=1_000)
    raw = build_households(district.records("users"))
    normalized = build_households(normalize_record("users", u) for u in district.records("users"))
    assert raw == normalized
    assert raw.children
    for guardian, children in raw.children.items():
        assert children == tuple(sorted(set(children)))
        for child in children:
            assert guardian in raw.guardians_of(child)
