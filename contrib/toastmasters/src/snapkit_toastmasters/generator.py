"""Deterministic synthetic districts: the data a local dashboard serves, and what it should
normalize to.

A :class:`Dashboard` holds districts of any size for one open program year and a current
month. Everything about a club in a month is a function of the seed, the district, the club's
position and the month, so any month up to the current one can be served again, byte for byte.
:meth:`Dashboard.expected_tables` computes the normalized tables straight from the model
(not through the CSV), which is what a refresh must store.

The districts have the exports' quirks built in: club names with commas and quotes, clubs with
division ``0D`` and area ``0A`` (unassigned), every club status, all four distinguished codes,
and club numbers the club performance report zero-pads.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

MONTH_NAMES = ("Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun")
"""The months of a program year, in order (index 0 is July)."""

AS_OF_DAY = 22
"""The day of each month the served data is as of."""

_ADJECTIVES = (
    "Golden",
    "Sunrise",
    "Harbor",
    "Summit",
    "Prairie",
    "Riverside",
    "Capitol",
    "Northern",
    "Evening",
    "Lakeside",
    "Pioneer",
    "Silver",
    "Maple",
    "Coastal",
)
_NOUNS = (
    "Speakers",
    "Orators",
    "Communicators",
    "Leaders",
    "Voices",
    "Talkers",
    "Storytellers",
    "Debaters",
    "Toasters",
)
_PROGRAM = (("D", 5, 20), ("S", 7, 20), ("P", 9, 20), ("M", 10, 25))


@frozen
class ClubMonth:
    """One club in one month, as the dashboard knows it."""

    number: int
    name: str
    district: str
    division: str | None
    area: str | None
    status: str
    base: int
    active: int
    goals: int
    levels: tuple[int, int, int, int, int, int]
    new_members: int
    add_new_members: int
    trained: tuple[int, int]
    dues_on_time: tuple[int, int]
    officer_list_on_time: int
    distinguished: str | None
    csp: bool
    renewals: tuple[int, int, int]  # oct, apr, late
    new_paid: int
    charter_members: int
    charter_date: dt.date | None


def program_month(program_year: str, month: int) -> tuple[int, int]:
    """``(year, month number)`` of month index ``month`` (0 = July) of a program year."""
    first = int(program_year[:4])
    number = (month + 6) % 12 + 1
    return (first if number >= 7 else first + 1), number


def month_end(program_year: str, month: int) -> dt.date:
    """The last day of month index ``month`` of a program year."""
    year, number = program_month(program_year, month)
    return dt.date(year, number, calendar.monthrange(year, number)[1])


def as_of(program_year: str, month: int) -> dt.date:
    """The date month index ``month``'s data is as of."""
    year, number = program_month(program_year, month)
    return dt.date(year, number, AS_OF_DAY)


def level_reached(goals: int, members: int, change: int) -> str | None:
    """The distinguished code goals and membership reach (the program's rules)."""
    reached = None
    for code, goals_needed, members_needed in _PROGRAM:
        ok_members = members >= members_needed or (code != "M" and change >= 3)
        if goals >= goals_needed and ok_members:
            reached = code
    return reached


class Dashboard:
    """Synthetic districts for one open program year, at a current month.

    :param districts: district id -> number of clubs.
    :param program_year: the open program year (``YYYY-YYYY``).
    :param month: the current month index (0 = July .. 11 = June).
    :param seed: the seed every value derives from.
    """

    def __init__(
        self,
        districts: Mapping[str, int],
        *,
        program_year: str = "2026-2027",
        month: int = 2,
        seed: int = 0,
    ) -> None:
        if not districts:
            raise ValueError("a dashboard needs at least one district")
        if not 0 <= month <= 11:
            raise ValueError("month must be 0 (July) to 11 (June)")
        self.districts = {str(k): int(v) for k, v in districts.items()}
        self.program_year = program_year
        self.month = month
        self.seed = seed
        self._cache: dict[tuple[str, str, int], tuple[ClubMonth, ...]] = {}

    @classmethod
    def generate(
        cls,
        districts: int | Sequence[str] = 3,
        clubs: int = 150,
        *,
        program_year: str = "2026-2027",
        month: int = 2,
        seed: int = 0,
    ) -> Dashboard:
        """Districts ``61, 62, ...`` (or the ids given), each with ``clubs`` clubs."""
        ids = (
            [str(61 + i) for i in range(districts)]
            if isinstance(districts, int)
            else [str(d) for d in districts]
        )
        return cls({d: clubs for d in ids}, program_year=program_year, month=month, seed=seed)

    @property
    def previous_year(self) -> str:
        """The closed program year before the open one."""
        first = int(self.program_year[:4]) - 1
        return f"{first}-{first + 1}"

    def advance(self, months: int = 1) -> int:
        """Move the current month on; returns the new month index.

        :raises ValueError: past June (the program year's last month).
        """
        if self.month + months > 11:
            raise ValueError("the program year ends in June; cannot advance further")
        self.month += months
        return self.month

    # -- the model -------------------------------------------------------------------------

    def clubs(
        self, district: str, *, year: str | None = None, month: int | None = None
    ) -> tuple[ClubMonth, ...]:
        """Every club of ``district`` in month index ``month`` (default: the current one) of
        ``year`` (default: the open one), by club number."""
        year = year or self.program_year
        month = self.month if month is None else month
        key = (district, year, month)
        if key not in self._cache:
            count = self.districts[district]
            position = sorted(self.districts).index(district)
            clubs = [self._club(district, position, index, year, month) for index in range(count)]
            self._cache[key] = tuple(sorted(clubs, key=lambda c: c.number))
        return self._cache[key]

    def _club(self, district: str, position: int, index: int, year: str, month: int) -> ClubMonth:
        fixed = random.Random(f"{self.seed}:{district}:{index}")
        number = (position + 1) * 1_000_000 + index * 97 + fixed.randrange(97)
        name = f"{fixed.choice(_ADJECTIVES)} {fixed.choice(_NOUNS)}"
        shape = fixed.random()
        if shape < 0.1:
            name = f"{name}, {fixed.choice(_NOUNS)} & Friends"
        elif shape < 0.15:
            name = f'The "{fixed.choice(_ADJECTIVES)}" {fixed.choice(_NOUNS)}'
        name = f"{name} {index + 1}"
        divisions = max(1, self.districts[district] // 25)
        per_division = max(1, -(-self.districts[district] // divisions))
        division: str | None = chr(ord("A") + min(index // per_division, 25))
        area: str | None = str((index % per_division) // 5 + 1)
        if index % 37 == 5:
            division, area = None, None  # 0D / 0A: unassigned (new) clubs
        base = fixed.randint(6, 36)
        kind = fixed.random()
        low_year = random.Random(f"{self.seed}:{district}:{index}:{year}")
        active = max(0, base + low_year.randint(-4, 3))
        goals = fixed.randint(0, 9)
        new_members = add_new = 0
        levels = [0, 0, 0, 0, 0, 0]
        trained = [0, 0]
        for m in range(month + 1):
            step = random.Random(f"{self.seed}:{district}:{index}:{year}:{m}")
            active = max(0, active + step.randint(-2, 3))
            goals = min(10, goals + (1 if step.random() < 0.45 else 0))
            joined = step.randint(0, 2)
            new_members += joined
            add_new += step.randint(0, 1) if new_members > 4 else 0
            for i in range(6):
                levels[i] += step.randint(0, 2 if i < 2 else 1)
            trained = [
                min(7, trained[0] + step.randint(0, 2)),
                min(7, trained[1] + (step.randint(0, 2) if m >= 5 else 0)),
            ]
        if kind < 0.04:
            status = "Suspended"
        elif kind < 0.07:
            status = "Ineligible"
        elif active < 8:
            status = "Low"
        else:
            status = "Active"
        distinguished = (
            level_reached(goals, active, active - base) if status in {"Active", "Low"} else None
        )
        oct_ren = min(active, fixed.randint(0, base))
        apr_ren = min(max(0, active - oct_ren), fixed.randint(0, base)) if month >= 9 else 0
        late = fixed.randint(0, 2)
        charter = fixed.randint(20, 25) if division is None else 0
        charter_date = None
        if division is None:
            charter_date = dt.date(int(year[:4]), 7, 1) + dt.timedelta(days=fixed.randint(0, 60))
        elif status == "Suspended":
            charter_date = dt.date(int(year[:4]), 8, 1) + dt.timedelta(days=fixed.randint(0, 27))
        return ClubMonth(
            number=number,
            name=name,
            district=district,
            division=division,
            area=area,
            status=status,
            base=base,
            active=active,
            goals=goals,
            levels=(levels[0], levels[1], levels[2], levels[3], levels[4], levels[5]),
            new_members=new_members,
            add_new_members=add_new,
            trained=(trained[0], trained[1]),
            dues_on_time=(int(fixed.random() < 0.6), int(month >= 9 and fixed.random() < 0.5)),
            officer_list_on_time=int(fixed.random() < 0.7),
            distinguished=distinguished,
            csp=fixed.random() < 0.5,
            renewals=(oct_ren, apr_ren, late),
            new_paid=new_members,
            charter_members=charter,
            charter_date=charter_date,
        )

    # -- what a refresh must store ---------------------------------------------------------

    def expected_tables(
        self, *, year: str | None = None, month: int | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """The normalized tables of every district, rows sorted as the collector sorts them
        (districts numerically then by letter; clubs by number), computed from the model."""
        year = year or self.program_year
        month = self.month if month is None else month
        order = sorted(self.districts, key=lambda d: (0, int(d), "") if d.isdigit() else (1, 0, d))
        tables: dict[str, list[dict[str, Any]]] = {
            "districts": [],
            "divisions": [],
            "areas": [],
            "clubs": [],
            "district_statistics": [],
        }
        for district in order:
            clubs = self.clubs(district, year=year, month=month)
            rows = [self._club_row(c, year == self.program_year) for c in clubs]
            tables["clubs"].extend(rows)
            divisions = sorted({c.division for c in clubs if c.division})
            areas = sorted(
                {(c.division, c.area) for c in clubs if c.area},
                key=lambda k: (k[0] or "", int(k[1] or 0)),
            )
            for division in divisions:
                members = [c for c in clubs if c.division == division]
                tables["divisions"].append(
                    {
                        "division_id": f"{district}-{division}",
                        "district_id": district,
                        "division": division,
                        "areas": len({c.area for c in members if c.area}),
                        **_sums(members),
                    }
                )
            for division_code, area in areas:
                members = [c for c in clubs if c.division == division_code and c.area == area]
                tables["areas"].append(
                    {
                        "area_id": f"{district}-{division_code or '0D'}-{area}",
                        "district_id": district,
                        "division": division_code,
                        "area": area,
                        **_sums(members),
                    }
                )
            tables["districts"].append(
                {
                    "district_id": district,
                    "program_year": year,
                    "month_end": month_end(year, month).isoformat(),
                    "data_as_of": as_of(year, month).isoformat(),
                    "divisions": len(divisions),
                    "areas": len(areas),
                    "clubs": len(clubs),
                    "unassigned_clubs": sum(1 for c in clubs if c.division is None),
                }
            )
            tables["district_statistics"].append(_statistics(district, clubs))
        tables["clubs"].sort(key=lambda row: int(row["club_number"]))
        return tables

    @staticmethod
    def _club_row(c: ClubMonth, open_year: bool) -> dict[str, Any]:
        return {
            "club_number": c.number,
            "club_name": " ".join(c.name.split()),
            "district_id": c.district,
            "division": c.division,
            "area": c.area,
            "status": c.status.lower(),
            "membership_base": c.base,
            "active_members": c.active,
            "member_change": c.active - c.base,
            "goals_met": c.goals,
            "level_1s": c.levels[0],
            "level_2s": c.levels[1],
            "add_level_2s": c.levels[2],
            "level_3s": c.levels[3],
            "level_4s": c.levels[4],
            "add_level_4s": c.levels[5],
            "new_members": c.new_members,
            "add_new_members": c.add_new_members,
            "officers_trained_round_1": c.trained[0],
            "officers_trained_round_2": c.trained[1],
            "dues_on_time_oct": c.dues_on_time[0],
            "dues_on_time_apr": c.dues_on_time[1],
            "officer_list_on_time": c.officer_list_on_time,
            "distinguished": c.distinguished,
            "csp": c.csp if open_year else None,
            "new_paid": c.new_paid,
            "late_renewals": c.renewals[2],
            "oct_renewals": c.renewals[0],
            "apr_renewals": c.renewals[1],
            "charter_members": c.charter_members,
            "total_paid": c.new_paid + sum(c.renewals) + c.charter_members,
            "charter_date": c.charter_date.isoformat() if c.charter_date else None,
        }


def _sums(clubs: Sequence[ClubMonth]) -> dict[str, Any]:
    base = sum(c.base for c in clubs)
    active = sum(c.active for c in clubs)
    return {
        "clubs": len(clubs),
        "membership_base": base,
        "active_members": active,
        "member_change": active - base,
        "distinguished_clubs": sum(1 for c in clubs if c.distinguished),
    }


def _statistics(district: str, clubs: Sequence[ClubMonth]) -> dict[str, Any]:
    base = sum(c.base for c in clubs)
    active = sum(c.active for c in clubs)
    by_code = {code: sum(1 for c in clubs if c.distinguished == code) for code in "DSPM"}
    total = sum(by_code.values())
    return {
        "district_id": district,
        "clubs_total": len(clubs),
        "clubs_active": sum(1 for c in clubs if c.status == "Active"),
        "clubs_suspended": sum(1 for c in clubs if c.status == "Suspended"),
        "clubs_ineligible": sum(1 for c in clubs if c.status == "Ineligible"),
        "clubs_low": sum(1 for c in clubs if c.status == "Low"),
        "membership_base": base,
        "membership_total": active,
        "membership_change": active - base,
        "membership_change_pct": round(100.0 * (active - base) / base, 2) if base else None,
        "distinguished": by_code["D"],
        "select_distinguished": by_code["S"],
        "presidents_distinguished": by_code["P"],
        "smedley_distinguished": by_code["M"],
        "distinguished_total": total,
        "distinguished_pct": round(100.0 * total / len(clubs), 2) if clubs else None,
    }
