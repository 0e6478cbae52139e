"""Every quirk of the dashboard's exports, each on a fixture file in the exports' format."""

from __future__ import annotations

import datetime as dt

import pytest
from toastmasters_helpers import FIXTURES, collect_fixtures, fixture

from snapkit.errors import OracleError
from snapkit_toastmasters.collect import Collected
from snapkit_toastmasters.columns import normalize_heading
from snapkit_toastmasters.errors import (
    EmptyDistrictError,
    ExportFormatError,
    ToastmastersError,
    ValidationFailedError,
)
from snapkit_toastmasters.exportcsv import parse_export
from snapkit_toastmasters.normalize import CLUB_FIELDS
from snapkit_toastmasters.reports import load_report

NAMES = ("Speakers", "Early", "Horizons", "Capitol", "Summit", "Riverside")


def clubs(collected: Collected) -> dict[int, dict]:
    return {row["club_number"]: row for row in collected.tables["clubs"]}


def test_every_field_is_quoted_and_a_heading_with_commas_is_one_column() -> None:
    export = parse_export(fixture("closed_year", "club_performance"))
    assert "Level 4s, Path Completions, or DTM Awards" in export.headings
    assert len(export.headings) == 23
    report = load_report(fixture("closed_year", "club_performance"), "club_performance", "86")
    first = report.rows[0]
    assert first["club_name"] == "Speakers, Leaders & Friends"
    assert first["level_4s"] == 1 and first["add_level_4s"] == 0
    assert report.rows[1]["club_name"] == 'The "Early" Birds'


def test_the_trailing_month_line_gives_the_as_of_date_and_is_not_a_row() -> None:
    closed = parse_export(fixture("closed_year", "club_performance"))  # unquoted, CRLF
    assert (closed.month, closed.as_of) == (6, dt.date(2026, 7, 15))
    assert len(closed.rows) == 6 and closed.trailer_line == 8
    opened = parse_export(fixture("open_year", "club_performance"))  # quoted, LF
    assert (opened.month, opened.as_of) == (9, dt.date(2026, 9, 22))
    collected = collect_fixtures()
    assert collected.metadata["data_as_of"] == "2026-09-22"
    assert collected.tables["districts"][0]["month_end"] == "2026-09-30"


def test_a_byte_order_mark_is_ignored() -> None:
    data = fixture("open_year", "club_performance")
    assert data.startswith(b"\xef\xbb\xbf")
    with_bom = parse_export(data)
    without = parse_export(data[3:])
    assert with_bom.headings[0] == "District" and with_bom == without


def test_zero_padded_club_numbers_match_the_unpadded_ones_of_the_other_report() -> None:
    assert b'"00001234"' in fixture("open_year", "club_performance")
    assert b'"1234"' in fixture("open_year", "district_performance")
    club = clubs(collect_fixtures())[1234]
    assert club["active_members"] == 23  # from the club performance report
    assert club["oct_renewals"] == 15  # from the district performance report
    assert club["total_paid"] == 22


def test_0D_and_0A_mean_no_division_and_no_area() -> None:
    collected = collect_fixtures()
    new_club = clubs(collected)[9012]
    assert (new_club["division"], new_club["area"]) == (None, None)
    assert new_club["charter_date"] == "2026-08-15"
    assert [d["division_id"] for d in collected.tables["divisions"]] == ["86-A", "86-B"]
    assert [a["area_id"] for a in collected.tables["areas"]] == [
        "86-A-1",
        "86-A-2",
        "86-B-1",
        "86-B-2",
    ]
    assert collected.tables["districts"][0]["unassigned_clubs"] == 1
    assert collected.tables["districts"][0]["divisions"] == 2


def test_distinguished_clubs_are_counted_by_status_code() -> None:
    collected = collect_fixtures()
    assert {n: c["distinguished"] for n, c in clubs(collected).items()} == {
        1234: "D",
        5678: None,
        9012: "S",
        3456: None,
        7890: "M",
        2222: None,
    }
    stats = collected.tables["district_statistics"][0]
    assert (
        stats["distinguished"],
        stats["select_distinguished"],
        stats["presidents_distinguished"],
        stats["smedley_distinguished"],
        stats["distinguished_total"],
    ) == (1, 1, 0, 1, 3)


def test_a_level_written_in_words_instead_of_a_code_is_refused_naming_the_line() -> None:
    broken = (FIXTURES / "broken" / "word_status_club_performance.csv").read_bytes()
    with pytest.raises(ExportFormatError) as caught:
        collect_fixtures(club_performance=broken)
    message = str(caught.value)
    assert "district 86, club performance report, line 6: club 7890" in message
    assert "Club Distinguished Status" in message and "Smedley" not in message


def test_club_statuses_active_suspended_ineligible_low_are_counted() -> None:
    collected = collect_fixtures()
    statuses = {n: c["status"] for n, c in clubs(collected).items()}
    assert sorted(set(statuses.values())) == ["active", "ineligible", "low", "suspended"]
    stats = collected.tables["district_statistics"][0]
    assert (
        stats["clubs_active"],
        stats["clubs_suspended"],
        stats["clubs_ineligible"],
        stats["clubs_low"],
        stats["clubs_total"],
    ) == (3, 1, 1, 1, 6)
    assert (
        stats["membership_base"],
        stats["membership_total"],
        stats["membership_change"],
        stats["membership_change_pct"],
    ) == (66, 85, 19, 28.79)


def test_open_year_columns_are_matched_by_heading_not_by_position() -> None:
    export = parse_export(fixture("open_year", "club_performance"))
    assert export.headings.index("Club Name") < export.headings.index("Club Number")
    assert {"CSP", "Net Growth", "Level 1s Earned"} <= set(export.headings)
    collected = collect_fixtures()
    club = clubs(collected)[7890]
    assert (club["club_name"], club["level_1s"], club["level_4s"], club["csp"]) == (
        "Summit Voices",
        12,
        2,
        True,
    )
    assert collected.metadata["districts"]["86"]["open_year_columns"] is True


def test_closed_and_open_year_reports_of_the_same_clubs_give_the_same_club_columns() -> None:
    closed = collect_fixtures("closed_year", "2025-2026")
    opened = collect_fixtures("open_year", "2026-2027")
    for table in closed.tables:
        closed_columns = {tuple(row) for row in closed.tables[table]}
        open_columns = {tuple(row) for row in opened.tables[table]}
        assert closed_columns == open_columns, table
    assert tuple(closed.tables["clubs"][0]) == CLUB_FIELDS
    strip = ("csp",)
    assert [{k: v for k, v in row.items() if k not in strip} for row in closed.tables["clubs"]] == [
        {k: v for k, v in row.items() if k not in strip} for row in opened.tables["clubs"]
    ]
    assert all(row["csp"] is None for row in closed.tables["clubs"])
    assert closed.metadata["districts"]["86"]["open_year_columns"] is False


@pytest.mark.parametrize(
    ("heading", "normalized"),
    [
        ("Mem. Base", "mem base"),
        ("Level 4s, Path Completions, or DTM Awards", "level 4s path completions or dtm awards"),
        ("\ufeffDistrict", "district"),
        ("President's Distinguished Clubs", "president s distinguished clubs"),
        ("  Charter Date/Suspend Date ", "charter date suspend date"),
    ],
)
def test_headings_are_matched_normalized(heading: str, normalized: str) -> None:
    assert normalize_heading(heading) == normalized


# -- broken exports ----------------------------------------------------------------------------


def broken(name: str) -> bytes:
    return (FIXTURES / "broken" / f"{name}.csv").read_bytes()


def assert_no_record_values(error: BaseException) -> None:
    text = str(error)
    assert not any(name in text for name in NAMES), text


def test_a_truncated_export_names_the_district_report_and_last_line() -> None:
    with pytest.raises(ExportFormatError) as caught:
        collect_fixtures(club_performance=broken("truncated_club_performance"))
    assert str(caught.value).startswith(
        "district 86, club performance report, line 5: the export ends without its 'Month of"
    )
    assert isinstance(caught.value, OracleError)
    assert (caught.value.district, caught.value.report, caught.value.line) == (
        "86",
        "club_performance",
        5,
    )
    assert_no_record_values(caught.value)


def test_a_missing_column_is_named() -> None:
    with pytest.raises(ExportFormatError) as caught:
        collect_fixtures(club_performance=broken("missing_column_club_performance"))
    assert str(caught.value).startswith(
        "district 86, club performance report, line 1: the export has no column 'Active Members'"
    )


def test_a_row_with_too_few_fields_is_refused_naming_its_line() -> None:
    with pytest.raises(
        ExportFormatError,
        match=r"line 7: the row has 24 fields where the "
        r"heading has 25",
    ):
        collect_fixtures(club_performance=broken("short_row_club_performance"))


def test_summary_totals_that_disagree_with_the_clubs_fail_naming_the_column() -> None:
    with pytest.raises(ValidationFailedError) as caught:
        collect_fixtures(district_summary=broken("summary_disagrees_district_summary"))
    assert str(caught.value).startswith(
        "district 86, district summary report, line 2: 'Active Members' disagrees with the clubs"
    )
    assert '86"' not in str(caught.value)


def test_an_empty_district_fails_with_the_reason() -> None:
    with pytest.raises(
        EmptyDistrictError,
        match="district 86, club performance report, line 2: the report lists no clubs",
    ):
        collect_fixtures(club_performance=broken("empty_club_performance"))


def test_a_value_of_the_wrong_kind_names_the_club_and_column_not_the_value() -> None:
    data = fixture("open_year", "club_performance").replace(
        b'"Low","N","10","7"', b'"Low","N","10","seven"'
    )
    with pytest.raises(ExportFormatError) as caught:
        collect_fixtures(club_performance=data)
    assert str(caught.value) == (
        "district 86, club performance report, line 3: club 5678, "
        "column 'Active Members': expected a whole number"
    )


def test_a_row_of_another_district_is_refused() -> None:
    data = fixture("open_year", "district_performance").replace(b'"86","B","02"', b'"87","B","02"')
    with pytest.raises(
        ExportFormatError,
        match=r"district performance report, line 7: the row "
        r"\(club 2222\) is of district 87, not 86",
    ):
        collect_fixtures(district_performance=data)


def test_a_club_missing_from_the_district_performance_report_is_named() -> None:
    lines = fixture("open_year", "district_performance").split(b"\n")
    data = b"\n".join(line for line in lines if b'"5678"' not in line)
    with pytest.raises(
        ValidationFailedError, match="club 5678 is not in the district performance report"
    ):
        collect_fixtures(district_performance=data)


def test_not_utf8_and_unclosed_quotes_name_their_line() -> None:
    data = fixture("closed_year", "club_performance").replace(b"Summit", b"S\xffmmit")
    with pytest.raises(ExportFormatError, match="line 6: the export is not UTF-8"):
        parse_export(data, district="86", report="club_performance")
    data = fixture("closed_year", "club_performance").replace(b'"Summit Voices"', b'"Summit Voices')
    with pytest.raises(ToastmastersError, match="line 6"):
        parse_export(data, district="86", report="club_performance")
