"""The synthetic district: size, determinism, shapes, gradebook spread, advancing a day."""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics
from collections import Counter

from snapkit_oneroster.district import District
from snapkit_oneroster.schema import TABLES


def fingerprint(district: District) -> dict[str, str]:
    """A digest of every stored row of every table, in sourcedId order."""
    out = {}
    for name in TABLES:
        digest = hashlib.sha256()
        for sourced_id in district.ids(name):
            digest.update(repr(district.row(name, sourced_id)).encode())
        out[name] = digest.hexdigest()
    return out


def test_same_seed_gives_the_same_50k_user_district() -> None:
    first = District.generate(seed=42, users=50_000)
    second = District.generate(seed=42, users=50_000)
    assert first.count("users") == 50_000
    assert fingerprint(first) == fingerprint(second)
    some = first.ids("users")[::997]
    assert [first.record("users", i) for i in some] == [second.record("users", i) for i in some]


def test_another_seed_gives_other_sourced_ids() -> None:
    a = District.generate(seed=1, users=500)
    b = District.generate(seed=2, users=500)
    assert not set(a.ids("users")) & set(b.ids("users"))


def test_every_role_is_present_and_the_user_count_is_exact(district: District) -> None:
    roles = Counter(u["role"] for u in district.records("users"))
    assert sum(roles.values()) == 5_000
    assert {"student", "teacher", "parent", "guardian", "administrator", "aide"} <= set(roles)
    assert roles["student"] > roles["parent"] + roles["guardian"] > 1_000


def test_records_come_in_sourced_id_order(district: District) -> None:
    for name in TABLES:
        ids = [r["sourcedId"] for r in district.records(name)]
        assert ids == sorted(ids) and len(ids) == len(set(ids)) == district.count(name)


def test_users_have_the_rest_shapes_of_real_providers(district: District) -> None:
    for user in district.records("users"):
        assert user["enabledUser"] in ("true", "false")
        assert user["email"] and "@" in user["email"]
        for ref in (*user["orgs"], *user.get("agents", [])):
            assert set(ref) == {"href", "sourcedId", "type"}
    assert any(u["enabledUser"] == "false" for u in district.records("users"))


def test_agents_link_students_and_guardians_in_both_directions(district: District) -> None:
    users = {u["sourcedId"]: u for u in district.records("users")}
    linked = 0
    for user in users.values():
        if user["role"] in ("parent", "guardian"):
            for agent in user["agents"]:
                child = users[agent["sourcedId"]]
                assert agent["type"] == "user"
                assert child["role"] == "student"
                assert user["sourcedId"] in {a["sourcedId"] for a in child["agents"]}
                linked += 1
    assert linked > 1_000


def test_gradebook_has_line_items_results_and_categories(district: District) -> None:
    item = next(district.records("lineItems"))
    assert {
        "assignDate",
        "dueDate",
        "category",
        "class",
        "resultValueMin",
        "resultValueMax",
    } <= set(item)
    result = next(district.records("results"))
    assert {"score", "scoreStatus", "scoreDate", "student", "lineItem"} <= set(result)
    assert {c["title"] for c in district.records("categories")} >= {"Homework", "Quiz", "Test"}


def support_category(percents: list[float], last: dt.date | None, today: dt.date) -> str:
    """A plain dashboard rule: few results, no recent result, then by the mean score."""
    if len(percents) < 3:
        return "not_enough_data"
    if last is None or (today - last).days > 14:
        return "inactive"
    mean = statistics.fmean(percents)
    if mean < 0.65:
        return "struggling"
    if mean >= 0.9:
        return "excelling"
    return "on_track"


def test_students_fall_into_every_support_category(district: District) -> None:
    maximum = {i["sourcedId"]: i["resultValueMax"] for i in district.records("lineItems")}
    percents: dict[str, list[float]] = {}
    last: dict[str, dt.date] = {}
    for r in district.records("results"):
        student = r["student"]["sourcedId"]
        percents.setdefault(student, [])
        if r.get("score") is not None and r["scoreStatus"] != "exempt":
            percents[student].append(r["score"] / maximum[r["lineItem"]["sourcedId"]])
        day = dt.date.fromisoformat(r["scoreDate"])
        last[student] = max(last.get(student, day), day)
    graded_classes = {i["class"]["sourcedId"] for i in district.records("lineItems")}
    enrolled = {
        e["user"]["sourcedId"]
        for e in district.records("enrollments")
        if e["role"] == "student" and e["class"]["sourcedId"] in graded_classes
    }
    categories = Counter(
        support_category(percents.get(s, []), last.get(s), district.today) for s in enrolled
    )
    for name in ("struggling", "on_track", "excelling", "inactive", "not_enough_data"):
        assert categories[name] >= 20, categories


def test_advance_day_changes_what_it_reports() -> None:
    district = District.generate(seed=5, users=2_000)
    emails = {u["sourcedId"]: u["email"] for u in district.records("users")}
    scores = {r["sourcedId"]: r.get("score") for r in district.records("results")}
    results_before = district.count("results")
    change = district.advance_day()

    assert change.day == district.day == 1
    assert change.date == district.today.isoformat() == "2025-10-16"
    assert change.students_added and change.students_withdrawn and change.emails_changed
    users = {u["sourcedId"]: u for u in district.records("users")}
    enrollments = list(district.records("enrollments"))
    for student in change.students_added:
        assert users[student]["role"] == "student"
        guardians = [a["sourcedId"] for a in users[student]["agents"]]
        assert guardians and all(
            student in {a["sourcedId"] for a in users[g]["agents"]} for g in guardians
        )
        assert any(e["user"]["sourcedId"] == student for e in enrollments)
    gone = set(change.students_withdrawn)
    assert not gone & set(users)
    assert not any(e["user"]["sourcedId"] in gone for e in enrollments)
    assert not any(r["student"]["sourcedId"] in gone for r in district.records("results"))
    assert not any(a["sourcedId"] in gone for u in users.values() for a in u.get("agents", []))
    for user in change.emails_changed:
        if user in users:
            assert users[user]["email"] != emails[user]
    for item in change.line_items_added:
        assert district.record("lineItems", item)["assignDate"].startswith("2025-10-16")
    for result in change.results_added:
        assert result not in scores and district.record("results", result) is not None
    for result in change.results_updated:
        record = district.record("results", result)
        if record is not None:
            assert record["dateLastModified"].startswith("2025-10-16")
            assert record["score"] != scores[result]
    assert district.count("results") != results_before


def test_advance_day_is_deterministic() -> None:
    a = District.generate(seed=9, users=1_000)
    b = District.generate(seed=9, users=1_000)
    assert [a.advance_day() for _ in range(3)] == [b.advance_day() for _ in range(3)]
    assert fingerprint(a) == fingerprint(b)
