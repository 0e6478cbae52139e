"""The collector's core and shell beyond the quirks: dates, months, settings, HTTP statuses,
and the local dashboard's determinism."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from toastmasters_helpers import collect_fixtures, fixture, tm_project

from snapkit.errors import TransientOracleError
from snapkit_toastmasters.collect import Request, collect
from snapkit_toastmasters.columns import KINDS
from snapkit_toastmasters.errors import (
    ExportFetchError,
    StaleDataError,
    TransientFetchError,
    ValidationFailedError,
)
from snapkit_toastmasters.fetch import HttpFetcher
from snapkit_toastmasters.generator import Dashboard
from snapkit_toastmasters.render import render_report
from snapkit_toastmasters.server import serve


def test_report_urls_follow_the_dashboards_form() -> None:
    request = Request.from_settings(
        {
            "base_url": "https://dash.example/",
            "districts": [61, "f"],
            "program_year": "2026-2027",
            "month_end": "2026-09-30",
        }
    )
    assert request.districts == ("61", "F")
    assert request.url("club_performance", "61") == (
        "https://dash.example/export.aspx?type=CSV&report=clubperformance~61~9/30/2026~~2026-2027"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"program_year": "2026-2028"}, "not two consecutive years"),
        ({"districts": ["09", 9]}, "names the same district twice"),
    ],
)
def test_settings_that_cannot_be_right_are_refused(settings: dict, message: str) -> None:
    base = {"base_url": "http://x", "districts": ["61"], "program_year": "2026-2027"}
    with pytest.raises(ValidationFailedError, match=message):
        Request.from_settings({**base, **settings})


def test_reports_of_different_as_of_dates_are_a_transient_failure() -> None:
    with pytest.raises(
        TransientFetchError,
        match="district 86: the district summary and club performance reports are of different",
    ):
        collect_fixtures(district_summary=fixture("closed_year", "district_summary"))
    assert issubclass(TransientFetchError, TransientOracleError)


def test_exports_of_another_month_than_asked_are_refused() -> None:
    request = Request("http://x", ("86",), "2026-2027", month_end=dt.date(2026, 10, 31))
    with pytest.raises(ValidationFailedError, match="month ending 2026-09-30, not 2026-10-31"):
        collect(request, lambda district, report, url: fixture("open_year", report))


def test_data_older_than_the_baseline_is_refused_and_equal_dates_pass() -> None:
    request = Request("http://x", ("86",), "2026-2027")

    def fetch(district: str, report: str, url: str) -> bytes:
        return fixture("open_year", report)

    assert collect(request, fetch, baseline={"86": "2026-09-22", "61": "2027-01-01"}).tables
    with pytest.raises(
        StaleDataError, match="as of 2026-09-22, older than the current snapshot's \\(2026-09-23\\)"
    ):
        collect(request, fetch, baseline={"86": "2026-09-23"})


def test_numbers_with_thousands_separators_are_read() -> None:
    assert KINDS["whole"]("1,234") == 1234
    assert KINDS["signed"]("-12") == -12
    with pytest.raises(ValueError, match="expected a whole number"):
        KINDS["whole"]("-3")


def test_http_statuses_are_sorted_into_transient_and_permanent() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        status = int(request.url.params["report"].split("~")[1])
        return httpx.Response(status, headers={"Retry-After": "2"}, content=b"x")

    with HttpFetcher(transport=httpx.MockTransport(answer)) as fetcher:
        assert fetcher("200", "club_performance", "http://x/export.aspx?report=c~200") == b"x"
        for status in (500, 503, 429):
            with pytest.raises(TransientFetchError) as caught:
                fetcher(str(status), "club_performance", f"http://x/export.aspx?report=c~{status}")
            assert caught.value.retry_after == 2.0
        with pytest.raises(ExportFetchError, match="HTTP 404"):
            fetcher("404", "club_performance", "http://x/export.aspx?report=c~404")


def test_a_404_fails_at_once_without_retries(tmp_path: Path) -> None:
    with serve(Dashboard.generate(["61"], 10)) as server:
        outcome = tm_project(tmp_path, server, districts=["61", "99"]).refresh()
    assert outcome.status == "failed"
    (error,) = [e for e in outcome.errors if e.oracle == "tm_metadata"]
    assert "district 99, district summary report: the dashboard answered HTTP 404" in error.message
    assert outcome.manifest.run.timings["tm_metadata"].attempts == 1


def test_the_local_dashboard_is_deterministic() -> None:
    one = Dashboard.generate(2, 30, seed=4)
    two = Dashboard.generate(2, 30, seed=4)
    for report in ("club_performance", "district_performance", "district_summary"):
        assert render_report(one, report, "61") == render_report(two, report, "61")
    two.advance()
    assert render_report(one, "club_performance", "61", month=2) == render_report(
        two, "club_performance", "61", month=2
    )
    assert render_report(one, "club_performance", "61") != render_report(
        two, "club_performance", "61"
    )
    assert Dashboard.generate(2, 30, seed=5).expected_tables() != one.expected_tables()


def test_a_heading_used_twice_and_a_club_listed_twice_are_refused() -> None:
    from snapkit_toastmasters.errors import ExportFormatError

    data = fixture("closed_year", "district_summary").replace(b'"Low Clubs"', b'"Total Clubs"')
    with pytest.raises(ExportFormatError, match="line 1: column 'Total Clubs' appears 2 times"):
        collect_fixtures("closed_year", "2025-2026", district_summary=data)
    lines = fixture("closed_year", "district_performance").split(b"\r\n")
    twice = b"\r\n".join([*lines[:3], lines[2], *lines[3:]])
    with pytest.raises(
        ExportFormatError,
        match="line 4: club 5678 is listed twice "
        r"\(first on line 3\)",
    ):
        collect_fixtures("closed_year", "2025-2026", district_performance=twice)


def test_the_handoff_keeps_a_bounded_number_of_refreshes() -> None:
    from snapkit_toastmasters.collect import Collected
    from snapkit_toastmasters.oracles import Handoff

    handoff = Handoff(keep=2)
    for token in ("a", "b", "c"):
        handoff.put(token, Collected({}, {}, 0))
    assert len(handoff) == 2 and handoff.get("a") is None and handoff.get("c") is not None
    handoff.release("c")
    assert handoff.get("c") is None
