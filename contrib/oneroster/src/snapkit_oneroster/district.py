"""A deterministic synthetic school district in OneRoster 1.1 shapes.

``District.generate(seed=7, users=50_000)`` builds orgs (the district and its schools),
academic sessions, courses, classes, users (students, teachers, parents and guardians,
administrators, aides; students and guardians linked through ``agents`` both ways),
enrollments, and a gradebook (categories, line items, results) in which students fall into
every support category an instructor dashboard shows: excelling, on track, struggling,
inactive (no recent results) and not enough data (joined lately). Profiles are dealt per class
section (every section of five or more students has each profile, and from eight students on
a late joiner), and each profile's results are shaped to land in its category under the
instructor dashboard's default rules (progress = share of due line items completed,
proficiency = mean score fraction): excelling students complete everything and average about
94 %; on-track students complete everything and average about 72 %; struggling students hand
in one line item in five (the rest are recorded ``not submitted`` with a score of 0), so their
progress stays under 40 % and their proficiency around 10 %; inactive students stopped three
weeks before day 0. The same seed and size always give the same records and sourcedIds.
:meth:`District.advance_day` moves the district one school day on: students join and
withdraw, emails change, line items come due and get results, some results are regraded.

Records are kept as compact tuples and rendered to REST JSON on demand
(:meth:`District.records`), so 50,000 users fit in little memory and generate in seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from collections.abc import Iterator
from typing import Any

import attrs

from snapkit_oneroster.schema import TABLES, Kind, Table

Row = tuple[Any, ...]
"""A record stored in table field order, references as bare sourcedIds."""

SCHOOL_YEAR_START = dt.date(2025, 8, 11)
SCHOOL_YEAR_END = dt.date(2026, 5, 29)
DAY_ZERO = dt.date(2025, 10, 15)
"""The district's date on day 0; :meth:`District.advance_day` adds one day to it."""

REF_PATHS = {
    "user": "users",
    "org": "orgs",
    "academicSession": "academicSessions",
    "class": "classes",
    "course": "courses",
    "category": "categories",
    "lineItem": "lineItems",
}
"""The REST collection a GUIDRef of each type points into (for ``href``)."""

PROFILES = ("excelling", "on_track", "struggling", "inactive")
"""How a student works; with a late join date, any of them has 'not enough data'."""

STRUGGLING_HAND_IN_EVERY = 5
"""A struggling student hands in one line item in this many (which ones depends on the
student); the others are recorded ``not submitted``, score 0."""

_PROFILE_WEIGHTS = (20, 47, 22, 11)
_LATE_JOIN_SHARE = 0.07
_INACTIVE_AFTER_DAYS = 21
_SECTION_SIZE = 28
_LINE_ITEMS_PER_CLASS = 8
_SUBJECTS = (
    ("Mathematics", "MATH"),
    ("English Language Arts", "ELA"),
    ("Science", "SCI"),
    ("Social Studies", "SOC"),
)
_GRADEBOOK_SUBJECTS = frozenset({"MATH"})
_LEVELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Elementary", ("KG", "01", "02", "03", "04", "05")),
    ("Elementary", ("KG", "01", "02", "03", "04", "05")),
    ("Middle", ("06", "07", "08")),
    ("High", ("09", "10", "11", "12")),
)
_CATEGORIES = (("Homework", 10.0), ("Quiz", 20.0), ("Test", 100.0), ("Project", 50.0))
_CATEGORY_CYCLE = (0, 1, 0, 2, 0, 1, 3, 2)
_GIVEN = tuple(
    (  # noqa: SIM905 (a word list reads better as text)
        "Aaliyah Aiden Amara Andre Ava Benjamin Camila Carlos Chloe Daniel Diego Elena Elijah "
        "Emma Ethan Fatima Gabriel Grace Hana Isaac Isabella Jamal Jasmine Jordan Kai Layla Leo "
        "Liam Lucia Malik Maya Mateo Mia Noah Nora Olivia Omar Priya Quinn Rosa Ryan Sara Sofia "
        "Tariq Theo Uma Valeria Wei Xavier Yara Yusuf Zoe"
    ).split()
)
_FAMILY = tuple(
    (  # noqa: SIM905 (a word list reads better as text)
        "Adams Ahmed Alvarez Baker Bennett Brooks Chen Clark Cruz Davis Diaz Edwards Evans "
        "Flores Garcia Gomez Green Hall Harris Hernandez Hill Huang Jackson Johnson Kim King "
        "Lee Lewis Lopez Martin Martinez Miller Moore Morales Nguyen Okafor Ortiz Patel Perez "
        "Phillips Ramirez Reed Rivera Roberts Robinson Sanchez Scott Singh Smith Taylor Thomas "
        "Torres Turner Walker Washington White Williams Wilson Wright Young"
    ).split()
)
_MAIL_HOSTS = ("example.com", "example.net", "example.org")


def new_id(rng: random.Random) -> str:
    """A UUID-shaped sourcedId drawn from ``rng`` (so it is deterministic)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


@functools.lru_cache(maxsize=1024)
def _stamp(day: dt.date) -> str:
    return f"{day.isoformat()}T06:00:00.000Z"


@attrs.frozen
class DayChange:
    """What one :meth:`District.advance_day` changed; every tuple sorted.

    :ivar day: the district's day number after the change.
    :ivar date: the district's date after the change (ISO).
    """

    day: int
    date: str
    students_added: tuple[str, ...]
    students_withdrawn: tuple[str, ...]
    guardians_added: tuple[str, ...]
    emails_changed: tuple[str, ...]
    line_items_added: tuple[str, ...]
    results_added: tuple[str, ...]
    results_updated: tuple[str, ...]


class District:
    """A synthetic district: every OneRoster table, its records in sourcedId order.

    Build one with :meth:`generate`. Reading is safe from many threads while nobody calls
    :meth:`advance_day`; the server serializes the two.
    """

    def __init__(self, seed: int, users: int) -> None:
        self.seed = seed
        self.users = users
        self.day = 0
        self.version = 0
        self._rows: dict[str, dict[str, Row]] = {name: {} for name in TABLES}
        self._sorted: dict[str, list[str]] = {}
        self._index = {
            name: {f.name: i for i, f in enumerate(t.fields)} for name, t in TABLES.items()
        }
        self._names = {name: t.field_names for name, t in TABLES.items()}
        # Side indexes that advance_day needs.
        self._profile: dict[str, str] = {}
        self._joined: dict[str, dt.date] = {}
        self._sections: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._class_students: dict[str, set[str]] = {}
        self._user_enrollments: dict[str, list[str]] = {}
        self._gradebook_classes: list[str] = []
        self._class_items: dict[str, list[str]] = {}
        self._category_ids: list[str] = []
        self._grading_periods: list[tuple[dt.date, dt.date, str]] = []
        self._term_ids: list[str] = []
        self._year_id = ""
        self._name_counter = 0

    # ------------------------------------------------------------------ reading

    @property
    def today(self) -> dt.date:
        """The district's current date."""
        return DAY_ZERO + dt.timedelta(days=self.day)

    def count(self, table: str) -> int:
        """How many records ``table`` holds."""
        return len(self._rows[table])

    def ids(self, table: str) -> list[str]:
        """The sourcedIds of ``table`` in ascending order (do not modify the list)."""
        ids = self._sorted.get(table)
        if ids is None:
            ids = sorted(self._rows[table])
            self._sorted[table] = ids
        return ids

    def row(self, table: str, sourced_id: str) -> Row | None:
        """The stored row of a record, or ``None``."""
        return self._rows[table].get(sourced_id)

    def value(self, table: str, sourced_id: str, field: str) -> Any:
        """One stored value of a record (references as bare sourcedIds)."""
        return self._rows[table][sourced_id][self._index[table][field]]

    def record(self, table: str, sourced_id: str, base_url: str = "") -> dict[str, Any] | None:
        """One record as the REST API returns it, or ``None`` when there is no such record.

        :param base_url: prefix of every GUIDRef ``href`` (the server's API root).
        """
        row = self._rows[table].get(sourced_id)
        return None if row is None else render(TABLES[table], row, base_url)

    def records(self, table: str, base_url: str = "") -> Iterator[dict[str, Any]]:
        """Every record of ``table`` in sourcedId order, as the REST API returns them."""
        t = TABLES[table]
        rows = self._rows[table]
        for sourced_id in self.ids(table):
            yield render(t, rows[sourced_id], base_url)

    def tables(self, base_url: str = "") -> dict[str, Iterator[dict[str, Any]]]:
        """Every table, by name, as a lazy iterator of its REST records in sourcedId order
        (the shape :func:`~snapkit_oneroster.bulk_csv.write_bulk_csv` takes)."""
        return {name: self.records(name, base_url) for name in TABLES}

    # ------------------------------------------------------------------ building

    @classmethod
    def generate(cls, *, seed: int = 0, users: int = 50_000) -> District:
        """Generate a district with exactly ``users`` users.

        :param seed: the seed; the same seed and size give the same district.
        :param users: how many users; at least 20.
        :raises ValueError: when ``users`` is below 20.
        """
        if users < 20:
            raise ValueError(f"a district needs at least 20 users, got {users}")
        district = cls(seed, users)
        _Builder(district, random.Random(seed)).build()
        return district

    def _put(self, table: str, values: dict[str, Any]) -> str:
        sourced_id: str = values["sourcedId"]
        self._rows[table][sourced_id] = tuple(map(values.get, self._names[table]))
        self._sorted.pop(table, None)
        return sourced_id

    def _update(self, table: str, sourced_id: str, **changes: Any) -> None:
        index = self._index[table]
        row = list(self._rows[table][sourced_id])
        for name, value in changes.items():
            row[index[name]] = value
        row[index["dateLastModified"]] = _stamp(self.today)
        self._rows[table][sourced_id] = tuple(row)

    def _delete(self, table: str, sourced_id: str) -> None:
        del self._rows[table][sourced_id]
        self._sorted.pop(table, None)

    # ------------------------------------------------------------------ changing

    def advance_day(self) -> DayChange:
        """Move the district one day on, deterministically, and say what changed.

        Per day (scaled to the district's size): about 0.1 % new students, each with a new
        guardian, enrolled in their grade's classes; about 0.1 % of students withdrawn (their
        user, enrollments and results removed, their guardians' ``agents`` updated); about
        0.2 % of users get a new email; line items that came due get results; some classes
        get a new line item; about 0.2 % of results are regraded.
        """
        self.day += 1
        self.version += 1
        return _Advancer(self, random.Random(f"snapkit-oneroster:{self.seed}:{self.day}")).run()


def render(t: Table, row: Row, base_url: str = "") -> dict[str, Any]:
    """Render a stored row as the REST JSON record (booleans as "true"/"false" strings)."""
    out: dict[str, Any] = {}
    for f, value in zip(t.fields, row, strict=True):
        if value is None:
            continue
        match f.kind:
            case Kind.REF:
                out[f.name] = _guid_ref(base_url, f.ref_type or "", value)
            case Kind.REFS:
                out[f.name] = [_guid_ref(base_url, f.ref_type or "", v) for v in value]
            case Kind.BOOL:
                out[f.name] = "true" if value else "false"
            case Kind.TEXTS:
                out[f.name] = list(value)
            case Kind.USER_IDS:
                out[f.name] = [{"type": k, "identifier": v} for k, v in value]
            case _:
                out[f.name] = value
    return out


def _guid_ref(base_url: str, ref_type: str, sourced_id: str) -> dict[str, str]:
    return {
        "href": f"{base_url}/{REF_PATHS[ref_type]}/{sourced_id}",
        "sourcedId": sourced_id,
        "type": ref_type,
    }


class _People:
    """Names, usernames and emails, unique within the district."""

    def __init__(self, district: District, rng: random.Random, domain: str) -> None:
        self.d = district
        self.rng = rng
        self.domain = domain

    def person(self, role: str, *, family: str | None = None) -> dict[str, Any]:
        self.d._name_counter += 1
        n = self.d._name_counter
        given = self.rng.choice(_GIVEN)
        family = family or self.rng.choice(_FAMILY)
        local = f"{given}.{family}{n}".lower()
        if role == "student":
            email = f"{local}@students.{self.domain}"
        elif role in ("parent", "guardian", "relative"):
            email = f"{given}{family}{n}@{self.rng.choice(_MAIL_HOSTS)}".lower()
        else:
            email = f"{local}@{self.domain}"
        middle = self.rng.choice(_GIVEN) if self.rng.random() < 0.3 else None
        return {
            "sourcedId": new_id(self.rng),
            "status": "active",
            "dateLastModified": _stamp(SCHOOL_YEAR_START),
            "enabledUser": self.rng.random() >= 0.01,
            "role": role,
            "username": email.split("@")[0],
            "userIds": (("SIS", f"{role[:1].upper()}{100000 + n}"),),
            "givenName": given,
            "familyName": family,
            "middleName": middle,
            "identifier": f"{100000 + n}",
            "email": email,
            "phone": f"555-{n % 10000:04d}" if role in ("parent", "guardian") else None,
            "agents": (),
            "orgs": (),
            "grades": (),
        }


def _hands_in(student: str, item_number: int) -> bool:
    """Whether a struggling student hands in the class's ``item_number``-th line item: one in
    :data:`STRUGGLING_HAND_IN_EVERY`, at an offset fixed by the student's sourcedId."""
    offset = int(student[:8], 16) % STRUGGLING_HAND_IN_EVERY
    return (item_number + offset) % STRUGGLING_HAND_IN_EVERY == 0


def _grade_result(
    rng: random.Random,
    profile: str,
    joined: dt.date,
    due: dt.date,
    max_score: float,
    today: dt.date,
    handed_in: bool = True,
) -> tuple[str, float | None, dt.date] | None:
    """Whether and how a student scored on a line item that came due on ``due``
    (``handed_in`` matters to struggling students only: see :func:`_hands_in`)."""
    if due < joined:
        return None
    if profile == "inactive" and due > DAY_ZERO - dt.timedelta(days=_INACTIVE_AFTER_DAYS):
        return None
    score_date = min(today, due + dt.timedelta(days=rng.randrange(0, 3)))
    if rng.random() < 0.02:
        return "exempt", None, score_date
    if profile == "struggling" and not handed_in:
        return "not submitted", 0.0, score_date
    mean, spread = {
        "excelling": (0.94, 0.04),
        "on_track": (0.72, 0.08),
        "struggling": (0.50, 0.12),
        "inactive": (0.72, 0.10),
    }[profile]
    frac = min(1.0, max(0.0, rng.gauss(mean, spread)))
    return "fully graded", round(frac * max_score, 1), score_date


class _Builder:
    """Builds a district's day 0."""

    def __init__(self, district: District, rng: random.Random) -> None:
        self.d = district
        self.rng = rng
        self.people = _People(district, rng, f"sd{district.seed}.example.edu")

    def build(self) -> None:
        n = self.d.users
        n_admin = max(1, n // 200)
        n_aide = max(1, n // 100)
        n_teacher = max(2, n // 20)
        n_student = int(n * 0.6)
        n_guardian = n - n_admin - n_aide - n_teacher - n_student
        district_id, schools = self._orgs(max(1, n_student // 600))
        self._sessions()
        self._categories()
        teachers = self._staff(district_id, schools, n_admin, n_aide, n_teacher)
        students = self._students(schools, n_student)
        self._guardians(students, n_guardian)
        for user in (*students, *teachers):
            self.d._put("users", user)
        self._courses_and_classes(schools, students, teachers)
        self._gradebook()

    def _orgs(self, n_schools: int) -> tuple[str, list[tuple[str, tuple[str, ...]]]]:
        stamp = _stamp(SCHOOL_YEAR_START)
        district_id = self.d._put(
            "orgs",
            {
                "sourcedId": new_id(self.rng),
                "status": "active",
                "dateLastModified": stamp,
                "name": f"Synthetic Unified School District {self.d.seed}",
                "type": "district",
                "identifier": f"SD{self.d.seed:04d}",
            },
        )
        schools = []
        for i in range(n_schools):
            level, grades = _LEVELS[i % len(_LEVELS)]
            school_id = self.d._put(
                "orgs",
                {
                    "sourcedId": new_id(self.rng),
                    "status": "active",
                    "dateLastModified": stamp,
                    "name": f"{self.rng.choice(_FAMILY)} {level} School {i + 1}",
                    "type": "school",
                    "identifier": f"SCH{i + 1:03d}",
                    "parent": district_id,
                },
            )
            schools.append((school_id, grades))
        return district_id, schools

    def _sessions(self) -> None:
        stamp = _stamp(SCHOOL_YEAR_START)

        def session(title: str, kind: str, start: dt.date, end: dt.date, parent: str | None) -> str:
            return self.d._put(
                "academicSessions",
                {
                    "sourcedId": new_id(self.rng),
                    "status": "active",
                    "dateLastModified": stamp,
                    "title": title,
                    "type": kind,
                    "startDate": start.isoformat(),
                    "endDate": end.isoformat(),
                    "parent": parent,
                    "schoolYear": "2026",
                },
            )

        year = session("2025-2026", "schoolYear", SCHOOL_YEAR_START, SCHOOL_YEAR_END, None)
        self.d._year_id = year
        fall = session("Fall 2025", "term", SCHOOL_YEAR_START, dt.date(2025, 12, 19), year)
        spring = session("Spring 2026", "term", dt.date(2026, 1, 5), SCHOOL_YEAR_END, year)
        self.d._term_ids = [fall, spring]
        periods = (
            ("Q1", SCHOOL_YEAR_START, dt.date(2025, 10, 10), fall),
            ("Q2", dt.date(2025, 10, 13), dt.date(2025, 12, 19), fall),
            ("Q3", dt.date(2026, 1, 5), dt.date(2026, 3, 13), spring),
            ("Q4", dt.date(2026, 3, 16), SCHOOL_YEAR_END, spring),
        )
        for title, start, end, parent in periods:
            gp = session(f"{title} 2025-2026", "gradingPeriod", start, end, parent)
            self.d._grading_periods.append((start, end, gp))

    def _categories(self) -> None:
        for title, _max in _CATEGORIES:
            self.d._category_ids.append(
                self.d._put(
                    "categories",
                    {
                        "sourcedId": new_id(self.rng),
                        "status": "active",
                        "dateLastModified": _stamp(SCHOOL_YEAR_START),
                        "title": title,
                    },
                )
            )

    def _staff(
        self,
        district_id: str,
        schools: list[tuple[str, tuple[str, ...]]],
        n_admin: int,
        n_aide: int,
        n_teacher: int,
    ) -> list[dict[str, Any]]:
        teachers = []
        for i in range(n_admin):
            admin = self.people.person("administrator")
            admin["orgs"] = (district_id,) if i == 0 else (schools[i % len(schools)][0],)
            teachers.append(admin)
        for i in range(n_aide):
            aide = self.people.person("aide")
            aide["orgs"] = (schools[i % len(schools)][0],)
            teachers.append(aide)
        for i in range(n_teacher):
            teacher = self.people.person("teacher")
            teacher["orgs"] = (schools[i % len(schools)][0],)
            teachers.append(teacher)
        return teachers

    def _students(
        self, schools: list[tuple[str, tuple[str, ...]]], n_student: int
    ) -> list[dict[str, Any]]:
        students = []
        for _ in range(n_student):
            school_id, grades = schools[self.rng.randrange(len(schools))]
            student = self.people.person("student")
            student["orgs"] = (school_id,)
            student["grades"] = (self.rng.choice(grades),)
            students.append(student)
        return students

    def _deal_profiles(self, section: list[str]) -> None:
        """Give a section's students their profiles and join dates, dealt from a shuffled
        deck in the proportions of :data:`PROFILES` (largest remainder): with five or more
        students every profile is dealt; from eight students on, about 7 % (at least one)
        join late, never the last on-time student of a profile."""
        m = len(section)
        total = sum(_PROFILE_WEIGHTS)
        exact = [m * w / total for w in _PROFILE_WEIGHTS]
        counts = [int(x) for x in exact]
        by_remainder = sorted(range(len(exact)), key=lambda i: (counts[i] - exact[i], i))
        for i in by_remainder[: m - sum(counts)]:
            counts[i] += 1
        if m > len(PROFILES):
            for i, c in enumerate(counts):
                if c == 0:
                    counts[i] = 1
                    counts[counts.index(max(counts))] -= 1
        deck = [p for p, c in zip(PROFILES, counts, strict=True) for _ in range(c)]
        self.rng.shuffle(deck)
        on_time = dict(zip(PROFILES, counts, strict=True))
        n_late = max(1, round(m * _LATE_JOIN_SHARE)) if m >= 8 else 0
        late = DAY_ZERO - dt.timedelta(days=10)
        for student, profile in zip(section, deck, strict=True):
            self.d._profile[student] = profile
            joined = SCHOOL_YEAR_START
            if n_late and on_time[profile] > 1:
                joined = late
                on_time[profile] -= 1
                n_late -= 1
            self.d._joined[student] = joined

    def _guardians(self, students: list[dict[str, Any]], n_guardian: int) -> None:
        """Households: one or two guardians and one to three children each."""
        i = 0
        made = 0
        while made < n_guardian:
            children = (
                students[i : i + self.rng.choice((1, 1, 1, 2, 2, 3))] if i < len(students) else []
            )
            i += len(children)
            family = children[0]["familyName"] if children else None
            for g in range(min(n_guardian - made, 2 if self.rng.random() < 0.35 else 1)):
                role = "parent" if g == 0 and self.rng.random() < 0.8 else "guardian"
                guardian = self.people.person(role, family=family)
                guardian["agents"] = tuple(c["sourcedId"] for c in children)
                guardian["orgs"] = tuple(sorted({c["orgs"][0] for c in children}))
                for child in children:
                    child["agents"] = (*child["agents"], guardian["sourcedId"])
                self.d._put("users", guardian)
                made += 1

    def _courses_and_classes(
        self,
        schools: list[tuple[str, tuple[str, ...]]],
        students: list[dict[str, Any]],
        staff: list[dict[str, Any]],
    ) -> None:
        by_school_grade: dict[tuple[str, str], list[str]] = {}
        for pupil in students:
            key = (pupil["orgs"][0], pupil["grades"][0])
            by_school_grade.setdefault(key, []).append(pupil["sourcedId"])
        teachers_by_school: dict[str, list[str]] = {}
        all_teachers = [t["sourcedId"] for t in staff if t["role"] == "teacher"]
        for t in staff:
            if t["role"] == "teacher":
                teachers_by_school.setdefault(t["orgs"][0], []).append(t["sourcedId"])
        year = self.d._year_id
        turn = 0
        for school_id, grades in schools:
            teachers = teachers_by_school.get(school_id) or all_teachers
            for grade in grades:
                roster = by_school_grade.get((school_id, grade), [])
                n_sections = max(1, math.ceil(len(roster) / _SECTION_SIZE))
                for s in range(n_sections):
                    self._deal_profiles(roster[s::n_sections])
                for subject, code in _SUBJECTS:
                    course_id = self.d._put(
                        "courses",
                        {
                            "sourcedId": new_id(self.rng),
                            "status": "active",
                            "dateLastModified": _stamp(SCHOOL_YEAR_START),
                            "schoolYear": year,
                            "title": f"{subject} {grade}",
                            "courseCode": f"{code}-{grade}",
                            "grades": (grade,),
                            "org": school_id,
                            "subjects": (subject,),
                            "subjectCodes": (code,),
                        },
                    )
                    n_sections = max(1, math.ceil(len(roster) / _SECTION_SIZE))
                    sections = self.d._sections.setdefault((school_id, grade), {}).setdefault(
                        code, []
                    )
                    for s in range(n_sections):
                        teacher = teachers[turn % len(teachers)]
                        turn += 1
                        class_id = self._class(course_id, school_id, grade, subject, code, s)
                        sections.append(class_id)
                        self._enroll(class_id, school_id, teacher, "teacher", SCHOOL_YEAR_START)
                        for student in roster[s::n_sections]:
                            self._enroll(
                                class_id, school_id, student, "student", self.d._joined[student]
                            )
                        if code in _GRADEBOOK_SUBJECTS:
                            self.d._gradebook_classes.append(class_id)

    def _class(
        self, course_id: str, school_id: str, grade: str, subject: str, code: str, s: int
    ) -> str:
        return self.d._put(
            "classes",
            {
                "sourcedId": new_id(self.rng),
                "status": "active",
                "dateLastModified": _stamp(SCHOOL_YEAR_START),
                "title": f"{subject} {grade} - Section {s + 1}",
                "grades": (grade,),
                "course": course_id,
                "classCode": f"{code}-{grade}-{s + 1:02d}",
                "classType": "homeroom" if code == "ELA" and grade in ("KG", "01") else "scheduled",
                "location": f"Room {100 + self.rng.randrange(300)}",
                "school": school_id,
                "terms": tuple(self.d._term_ids),
                "subjects": (subject,),
                "subjectCodes": (code,),
                "periods": (str(1 + self.rng.randrange(7)),),
            },
        )

    def _enroll(self, class_id: str, school_id: str, user: str, role: str, begin: dt.date) -> None:
        _enroll(self.d, self.rng, class_id, school_id, user, role, begin)

    def _gradebook(self) -> None:
        for class_id in self.d._gradebook_classes:
            day = SCHOOL_YEAR_START + dt.timedelta(days=5 + self.rng.randrange(4))
            for j in range(_LINE_ITEMS_PER_CLASS):
                _add_line_item(self.d, self.rng, class_id, j, day)
                day += dt.timedelta(days=7 + self.rng.randrange(5))
        for class_id in self.d._gradebook_classes:
            for item in self.d._class_items.get(class_id, []):
                due = dt.date.fromisoformat(self.d.value("lineItems", item, "dueDate")[:10])
                if due < DAY_ZERO:
                    _add_results(self.d, self.rng, item, class_id, due)


def _enroll(
    d: District,
    rng: random.Random,
    class_id: str,
    school_id: str,
    user: str,
    role: str,
    begin: dt.date,
) -> str:
    enrollment = d._put(
        "enrollments",
        {
            "sourcedId": new_id(rng),
            "status": "active",
            "dateLastModified": _stamp(begin),
            "class": class_id,
            "school": school_id,
            "user": user,
            "role": role,
            "primary": role == "teacher",
            "beginDate": begin.isoformat(),
            "endDate": SCHOOL_YEAR_END.isoformat(),
        },
    )
    if role == "student":
        d._class_students.setdefault(class_id, set()).add(user)
    d._user_enrollments.setdefault(user, []).append(enrollment)
    return enrollment


def _add_line_item(d: District, rng: random.Random, class_id: str, j: int, assign: dt.date) -> str:
    category = _CATEGORY_CYCLE[j % len(_CATEGORY_CYCLE)]
    title, max_score = _CATEGORIES[category]
    period = next((gp for start, end, gp in d._grading_periods if start <= assign <= end), None)
    item = d._put(
        "lineItems",
        {
            "sourcedId": new_id(rng),
            "status": "active",
            "dateLastModified": _stamp(min(assign, d.today)),
            "title": f"{title} {j + 1}",
            "description": f"{title} {j + 1} for this class",
            "assignDate": f"{assign.isoformat()}T08:00:00.000Z",
            "dueDate": f"{(assign + dt.timedelta(days=7)).isoformat()}T23:59:00.000Z",
            "class": class_id,
            "category": d._category_ids[category],
            "gradingPeriod": period,
            "resultValueMin": 0.0,
            "resultValueMax": max_score,
        },
    )
    d._class_items.setdefault(class_id, []).append(item)
    return item


def _add_results(
    d: District, rng: random.Random, item: str, class_id: str, due: dt.date
) -> list[str]:
    max_score = d.value("lineItems", item, "resultValueMax")
    item_number = d._class_items[class_id].index(item)
    added = []
    for student in sorted(d._class_students.get(class_id, ())):
        graded = _grade_result(
            rng,
            d._profile[student],
            d._joined[student],
            due,
            max_score,
            d.today,
            _hands_in(student, item_number),
        )
        if graded is None:
            continue
        status, score, score_date = graded
        added.append(
            d._put(
                "results",
                {
                    "sourcedId": new_id(rng),
                    "status": "active",
                    "dateLastModified": _stamp(score_date),
                    "lineItem": item,
                    "student": student,
                    "scoreStatus": status,
                    "score": score,
                    "scoreDate": score_date.isoformat(),
                },
            )
        )
    return added


class _Advancer:
    """Applies one day of changes to a district."""

    def __init__(self, district: District, rng: random.Random) -> None:
        self.d = district
        self.rng = rng
        self.people = _People(district, rng, f"sd{district.seed}.example.edu")

    def run(self) -> DayChange:
        d = self.d
        students = sorted(u for u in d._profile if u in d._rows["users"])
        n_move = max(1, len(students) // 1000)
        withdrawn = self._withdraw(self.rng.sample(students, min(n_move, len(students) - 1)))
        added, guardians = self._add_students(n_move)
        emails = self._change_emails(max(1, d.count("users") // 500))
        items = self._new_line_items()
        results_added = self._results_due()
        updated = self._regrade(max(1, d.count("results") // 500))
        return DayChange(
            day=d.day,
            date=d.today.isoformat(),
            students_added=tuple(sorted(added)),
            students_withdrawn=tuple(sorted(withdrawn)),
            guardians_added=tuple(sorted(guardians)),
            emails_changed=tuple(sorted(emails)),
            line_items_added=tuple(sorted(items)),
            results_added=tuple(sorted(results_added)),
            results_updated=tuple(sorted(updated)),
        )

    def _withdraw(self, chosen: list[str]) -> list[str]:
        d = self.d
        gone = set(chosen)
        for student in chosen:
            for guardian in d.value("users", student, "agents"):
                if guardian in d._rows["users"]:
                    agents = tuple(a for a in d.value("users", guardian, "agents") if a != student)
                    d._update("users", guardian, agents=agents)
            for enrollment in d._user_enrollments.pop(student, []):
                d._class_students.get(d.value("enrollments", enrollment, "class"), set()).discard(
                    student
                )
                d._delete("enrollments", enrollment)
            d._delete("users", student)
            del d._profile[student]
        at = d._index["results"]["student"]
        for result in [r for r, row in d._rows["results"].items() if row[at] in gone]:
            d._delete("results", result)
        return chosen

    def _add_students(self, n: int) -> tuple[list[str], list[str]]:
        d = self.d
        keys = sorted(d._sections)
        added, guardians = [], []
        for _ in range(n):
            school_id, grade = keys[self.rng.randrange(len(keys))]
            student = self.people.person("student")
            guardian = self.people.person("parent", family=student["familyName"])
            sid, gid = student["sourcedId"], guardian["sourcedId"]
            student.update(orgs=(school_id,), grades=(grade,), agents=(gid,))
            student["dateLastModified"] = guardian["dateLastModified"] = _stamp(d.today)
            guardian.update(orgs=(school_id,), agents=(sid,))
            d._put("users", student)
            d._put("users", guardian)
            d._profile[sid] = self.rng.choices(PROFILES, _PROFILE_WEIGHTS)[0]
            d._joined[sid] = d.today
            for code in sorted(d._sections[(school_id, grade)]):
                sections = d._sections[(school_id, grade)][code]
                _enroll(d, self.rng, self.rng.choice(sections), school_id, sid, "student", d.today)
            added.append(sid)
            guardians.append(gid)
        return added, guardians

    def _change_emails(self, n: int) -> list[str]:
        d = self.d
        users = d.ids("users")
        chosen = sorted(set(self.rng.sample(users, min(n, len(users)))))
        for user in chosen:
            local = d.value("users", user, "email").split("@")[0]
            d._update("users", user, email=f"{local}.d{d.day}@{self.rng.choice(_MAIL_HOSTS)}")
        return chosen

    def _new_line_items(self) -> list[str]:
        d = self.d
        added = []
        for class_id in d._gradebook_classes:
            if self.rng.random() < 1 / 9:
                j = len(d._class_items.get(class_id, []))
                added.append(_add_line_item(d, self.rng, class_id, j, d.today))
        return added

    def _results_due(self) -> list[str]:
        """Line items whose due date was yesterday are graded today."""
        d = self.d
        yesterday = (d.today - dt.timedelta(days=1)).isoformat()
        added = []
        for class_id in d._gradebook_classes:
            for item in d._class_items.get(class_id, []):
                if d.value("lineItems", item, "dueDate")[:10] == yesterday:
                    due = dt.date.fromisoformat(yesterday)
                    added += _add_results(d, self.rng, item, class_id, due)
        return added

    def _regrade(self, n: int) -> list[str]:
        d = self.d
        at, rows = d._index["results"], d._rows["results"]
        score_at, item_at = at["score"], at["lineItem"]
        item_max = {i: d.value("lineItems", i, "resultValueMax") for i in d.ids("lineItems")}
        graded = [  # a regrade raises the score, so full marks cannot be regraded
            r
            for r in d.ids("results")
            if (score := rows[r][score_at]) is not None and score < item_max[rows[r][item_at]]
        ]
        chosen = sorted(set(self.rng.sample(graded, min(n, len(graded)))))
        for result in chosen:
            item = d.value("results", result, "lineItem")
            max_score = d.value("lineItems", item, "resultValueMax")
            score = d.value("results", result, "score")
            new = round(min(max_score, score + max_score * self.rng.uniform(0.05, 0.2)), 1)
            d._update("results", result, score=new, scoreStatus="fully graded")
        return chosen
