"""The pages in headless Chromium against a real uvicorn server and real refreshes.

Covers the badge at three ages and during a refresh; Refresh with its confirmation and
token, live progress and the new snapshot; a failing source with its reason and Retry; a
guardian search listing the linked children; the diff view's changed score and delta.
Screenshots of every page at 1280x800 and at phone width go to ``$SNAPKIT_SCREENSHOTS`` (or
a temporary folder, printed at the end of the run). A missing browser fails these tests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from snapkit_oneroster.district import District
from snapkit_oneroster.relations import build_households
from snapkit_oneroster.server import ServerHandle, serve

sys.path.insert(0, str(Path(__file__).parent))
from browser import (
    SECRET,
    Screenshots,
    TestProject,
    chromium,
    close_chromium,
    environment,
    screenshot_folder,
)

WAIT = 60.0
"""How long a page may take to reach a state (a generous bound, not a timing assertion)."""


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    browser = chromium()
    try:
        yield browser
    finally:
        close_chromium(browser)


@pytest.fixture(scope="module")
def shots(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Screenshots]:
    taken = Screenshots(screenshot_folder(tmp_path_factory))
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")

    def report() -> None:  # at the end of the run, when output is no longer captured
        line = f"page screenshots ({len(taken.written)}) in {taken.folder}"
        if reporter is not None:
            reporter.write_line(line)
        else:  # pragma: no cover - pytest always has one
            print(line)

    request.config.add_cleanup(report)
    yield taken


@pytest.fixture(scope="module")
def district() -> District:
    return District.generate(seed=5, users=150)


@pytest.fixture(scope="module")
def oneroster(district: District) -> Iterator[ServerHandle]:
    with environment(), serve(district, auth="both", client_secret=SECRET) as handle:
        yield handle


@pytest.fixture(scope="module")
def world(
    oneroster: ServerHandle,
    tmp_path_factory: pytest.TempPathFactory,
    server_starter: Callable[..., Any],
) -> Iterator[dict[str, Any]]:
    """Three snapshots 10 days, 3 days and 2 hours old (score r-001: 71, 78, 80), served."""
    with environment():
        folder = tmp_path_factory.mktemp("browser-world")
        made = TestProject(folder, oneroster)
        ids = [made.refresh_ago(days=10)]
        made.set_score("r-001", 78)
        ids.append(made.refresh_ago(days=3))
        made.set_score("r-001", 80)
        ids.append(made.refresh_ago(hours=2))
        server = server_starter(made.config, folder / "serve.log")
        try:
            yield {"made": made, "ids": ids, "base": server.url}
        finally:
            server.stop()


@pytest.fixture
def fresh(oneroster: ServerHandle, tmp_path: Path) -> Iterator[TestProject]:
    """A project of its own (no snapshot yet), for tests that refresh."""
    with environment():
        yield TestProject(tmp_path, oneroster)
    oneroster.set_faults()


def wait_for(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        driver,
        WAIT,
        poll_frequency=0.1,
        ignored_exceptions=(WebDriverException,),  # e.g. while reloading
    ).until(condition, message)


def by_id(driver: Any, element_id: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


BADGE = """
const badge = document.getElementById("badge");
if (!badge) { return null; }
return [badge.dataset.colour, document.getElementById("badge-text").textContent.trim(),
        getComputedStyle(badge).backgroundColor, badge.dataset.state];
"""


def badge_of(driver: Any) -> list[str] | None:
    """The badge as the user sees it: its colour, its words, its painted background and its
    state, read in one go (the page may be reloading)."""
    return driver.execute_script(BADGE)  # type: ignore[no-any-return]


BACKGROUNDS = {
    "green": "rgb(218, 251, 225)",
    "yellow": "rgb(255, 248, 197)",
    "red": "rgb(255, 235, 233)",
    "blue": "rgb(221, 244, 255)",
}


def badge_reads(driver: Any, colour: str, text: str, state: str | None = None) -> bool:
    seen = badge_of(driver)
    return (
        seen is not None
        and seen[0] == colour
        and seen[1].startswith(text)
        and seen[2] == BACKGROUNDS[colour]
        and (state is None or seen[3] == state)
    )


def shown_snapshot(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(by_id(driver, "source").find_element(By.TAG_NAME, "code").get_attribute("title"))


def confirm_refresh(driver: Any, token: str, *, keyboard: bool = False) -> None:
    """Open the confirmation by its button, type the token, and confirm (as a user does:
    with the confirm button, or with Enter in the token field)."""
    from selenium.webdriver.common.keys import Keys

    wait_for(driver, lambda d: by_id(d, "refresh-button").is_displayed(), "no Refresh button")
    by_id(driver, "refresh-button").click()
    wait_for(driver, lambda d: by_id(d, "refresh-dialog").is_displayed(), "no confirmation")
    field = by_id(driver, "refresh-token")
    assert driver.switch_to.active_element == field  # the token field has the focus
    field.clear()
    if keyboard:
        field.send_keys(token, Keys.ENTER)
    else:
        field.send_keys(token)
        by_id(driver, "refresh-confirm").click()


def refresh_status(base: str) -> dict[str, Any]:
    return dict(httpx.get(base + "/api/refresh", timeout=10).json())


def test_badge_colour_and_text_at_three_ages(
    driver: Any, fresh: TestProject, shots: Screenshots, served: Callable[..., Any]
) -> None:
    fresh.refresh_ago(days=10)
    base = served(fresh.config).url
    driver.get(base + "/")
    assert badge_reads(driver, "red", "Snapshot: 10 days ago"), badge_of(driver)
    shots.take(driver, "status-red-10-days")
    fresh.set_score("r-002", 90)
    fresh.refresh_ago(days=3)
    driver.refresh()
    assert badge_reads(driver, "yellow", "Snapshot: 3 days ago"), badge_of(driver)
    shots.take(driver, "status-yellow-3-days")
    fresh.set_score("r-002", 91)
    newest = fresh.refresh_ago(hours=2)
    driver.refresh()
    assert badge_reads(driver, "green", "Snapshot: 2 hours ago"), badge_of(driver)
    assert shown_snapshot(driver) == newest
    shots.take(driver, "status-green")


def test_refresh_confirms_shows_progress_then_the_new_snapshot(
    driver: Any,
    fresh: TestProject,
    oneroster: ServerHandle,
    shots: Screenshots,
    served: Callable[..., Any],
    admin_token: str,
) -> None:
    old = fresh.refresh_ago(days=3)
    fresh.set_score("r-003", 70)
    base = served(fresh.config).url
    driver.get(base + "/")
    assert badge_reads(driver, "yellow", "Snapshot: 3 days ago")
    # Cancel starts nothing.
    by_id(driver, "refresh-button").click()
    wait_for(driver, lambda d: by_id(d, "refresh-dialog").is_displayed(), "no dialog")
    shots.take(driver, "status-refresh-confirm", sizes=("desktop",))
    by_id(driver, "refresh-cancel").click()
    wait_for(driver, lambda d: not by_id(d, "refresh-dialog").is_displayed(), "still open")
    assert refresh_status(base)["run"] is None
    # A wrong token is refused in the dialog.
    confirm_refresh(driver, "not-the-token")
    wait_for(
        driver,
        lambda d: "not accepted" in by_id(d, "refresh-error").text,
        "no message for a wrong token",
    )
    assert refresh_status(base)["run"] is None
    by_id(driver, "refresh-cancel").click()
    # The right token starts it; the source answers slowly, so it is seen running.
    oneroster.set_faults(delay=1.0)
    confirm_refresh(driver, admin_token, keyboard=True)
    wait_for(driver, lambda d: badge_reads(d, "blue", "Fetching: "), "never fetching")
    wait_for(
        driver,
        lambda d: d.find_elements("css selector", "#progress-list li"),
        "no progress per oracle",
    )
    # read in one script call: the list is redrawn on every progress event, so elements
    # found first may be gone by the time their attributes are read
    wait_for(
        driver,
        lambda d: (
            {"scores", "users"}
            <= set(
                d.execute_script(
                    "return Array.from(document.querySelectorAll('#progress-list li'),"
                    " li => li.getAttribute('data-oracle'))"
                )
            )
        ),
        "scores and users not in the progress",
    )
    shots.take(driver, "status-blue-fetching", ready=lambda d: badge_reads(d, "blue", "Fetching: "))
    oneroster.set_faults()
    wait_for(
        driver,
        lambda d: badge_reads(d, "green", "Snapshot: just now", "fresh"),
        "the new snapshot never showed",
    )
    new = fresh.project().current().id
    assert new != old
    assert shown_snapshot(driver) == new


def test_a_refresh_started_elsewhere_shows_live_and_the_page_updates_when_it_lands(
    driver: Any,
    fresh: TestProject,
    oneroster: ServerHandle,
    served: Callable[..., Any],
    admin_token: str,
) -> None:
    old = fresh.refresh_ago(days=2)
    fresh.set_score("r-002", 99)
    base = served(fresh.config).url
    oneroster.set_faults(delay=1.0)
    started = httpx.post(
        base + "/api/admin/refresh", timeout=30, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert started.status_code == 202, started.text
    driver.get(base + "/")  # opened while the refresh runs: no button to press
    assert badge_reads(driver, "blue", "Fetching: ", "fetching"), badge_of(driver)
    assert driver.find_elements("css selector", "#refresh-button") == []
    wait_for(
        driver,
        lambda d: d.find_elements("css selector", "#progress-list li"),
        "no progress per oracle",
    )
    oneroster.set_faults()
    wait_for(
        driver,
        lambda d: badge_reads(d, "green", "Snapshot: just now", "fresh"),
        "the page did not update when the snapshot landed",
    )
    assert shown_snapshot(driver) == fresh.project().current().id != old


def test_failing_source_shows_the_reason_and_retry(
    driver: Any,
    fresh: TestProject,
    shots: Screenshots,
    served: Callable[..., Any],
    admin_token: str,
) -> None:
    good = fresh.refresh_ago(hours=5)
    saved = fresh.scores_file.read_text("utf-8")
    fresh.scores_file.unlink()
    base = served(fresh.config).url
    driver.get(base + "/")
    confirm_refresh(driver, admin_token)
    wait_for(
        driver,
        lambda d: badge_reads(d, "red", "Refresh failed", "failed"),
        "the failure never showed",
    )
    detail = by_id(driver, "badge-detail").text
    assert "scores" in detail and "scores.jsonl" in detail
    assert by_id(driver, "refresh-button").text == "Retry"
    assert "still answer from the last good snapshot" in driver.page_source
    assert shown_snapshot(driver) == good
    shots.take(driver, "status-red-failed")
    # View details: the failed snapshot in the history, with what went wrong.
    driver.find_element("partial link text", "View details").click()
    failed = wait_for(
        driver,
        lambda d: d.find_element("css selector", "#snapshots tbody tr:first-child"),
        "no history",
    )
    assert "failed" in failed.text and "scores.jsonl" in failed.text
    assert "current" not in failed.text
    shots.take(driver, "history-after-failure")
    driver.get(base + "/")
    # The source is back: Retry lands a new snapshot.
    fresh.scores_file.write_text(saved.replace('"score": 64', '"score": 66'), "utf-8")
    confirm_refresh(driver, admin_token)
    wait_for(
        driver,
        lambda d: badge_reads(d, "green", "Snapshot: just now", "fresh"),
        "the retried snapshot never showed",
    )
    assert shown_snapshot(driver) == fresh.project().current().id != good


def test_no_snapshot_yet_offers_create(
    driver: Any, fresh: TestProject, shots: Screenshots, served: Callable[..., Any]
) -> None:
    base = served(fresh.config).url
    driver.get(base + "/")
    assert badge_reads(driver, "yellow", "No snapshot yet")
    assert by_id(driver, "refresh-button").text == "Create snapshot"
    shots.take(driver, "status-no-snapshot", sizes=("desktop",))


def test_guardian_search_lists_the_linked_children(
    driver: Any, world: dict[str, Any], district: District, shots: Screenshots
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    households = build_households(district.records("users"))
    guardian = next(g for g in sorted(households.children) if households.children_of(g))
    family = district.value("users", guardian, "familyName")
    driver.get(world["base"] + "/search")
    Select(by_id(driver, "search-in")).select_by_visible_text(
        "Parents and guardians (with their children)"
    )
    box = by_id(driver, "search-q")
    box.send_keys(f"familyName={family}", Keys.ENTER)  # the keyboard submits the form
    wait_for(driver, lambda d: by_id(d, "results"), "no results")
    results = driver.find_elements(By.CSS_SELECTOR, "#results li.result")
    named = " ".join(district.value("users", guardian, f) for f in ("givenName", "familyName"))
    match = next(r for r in results if r.find_element(By.TAG_NAME, "h3").text == named)
    children = match.find_element(By.CSS_SELECTOR, ".children").text
    for child in households.children_of(guardian):
        assert district.value("users", child, "givenName") in children
    assert shown_snapshot(driver) == world["ids"][-1]
    shots.take(driver, "search-guardians")


def test_student_search_page(driver: Any, world: dict[str, Any], shots: Screenshots) -> None:
    from selenium.webdriver.common.by import By

    driver.get(world["base"] + "/search?in=students&q=")
    roles = {
        dd.text
        for dd in driver.find_elements(
            By.XPATH, "//li[@class='result']//dt[text()='role']/following-sibling::dd[1]"
        )
    }
    assert roles == {"student"}
    shots.take(driver, "search-students")


def test_diff_view_shows_a_changed_score_with_its_delta(
    driver: Any, world: dict[str, Any], shots: Screenshots
) -> None:
    from selenium.webdriver.common.by import By

    driver.get(world["base"] + "/history")
    rows = driver.find_elements(By.CSS_SELECTOR, "#snapshots tbody tr")
    assert len(rows) == 3
    assert "current" in rows[0].text and "2 hours ago" in rows[0].text
    shots.take(driver, "history")
    rows[0].find_element(By.LINK_TEXT, "vs. previous").click()
    wait_for(driver, lambda d: by_id(d, "section-table"), "no table section")
    changed = driver.find_element(
        By.XPATH, "//table[contains(@class,'changes')]//tr[th/code='r-001']"
    )
    cells = [c.text for c in changed.find_elements(By.TAG_NAME, "td")]
    assert cells[:3] == ["score", "78", "80"]
    assert cells[3].startswith("+2")
    assert world["ids"][1][:12] in by_id(driver, "source").text
    shots.take(driver, "diff")


def test_pages_are_labelled_and_keyboard_reachable(driver: Any, world: dict[str, Any]) -> None:
    from selenium.webdriver.common.keys import Keys

    for path in ("/", "/search", "/history", "/diff"):
        driver.get(world["base"] + path)
        unlabelled = driver.execute_script(
            "return [...document.querySelectorAll('input, select')]"
            ".filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length))"
            ".map(e => e.id || e.name)"
        )
        assert unlabelled == [], path
        assert driver.find_element("css selector", "main h1").text
        driver.find_element("tag name", "body").send_keys(Keys.TAB)
        assert driver.switch_to.active_element.text == "Skip to content", path


def test_reading_works_without_javascript(
    driver: Any, world: dict[str, Any], district: District
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(world["base"] + "/")
        assert by_id(driver, "badge-text").text == "Snapshot: 2 hours ago"
        assert not by_id(driver, "refresh-button").is_displayed()  # refreshing needs the script
        assert "Refreshing needs JavaScript" in driver.find_element(By.TAG_NAME, "main").text
        driver.get(world["base"] + "/search")
        Select(by_id(driver, "search-in")).select_by_visible_text("Teachers")
        driver.find_element(By.CSS_SELECTOR, "form[role=search] button[type=submit]").click()
        wait_for(driver, lambda d: by_id(d, "results"), "the form did not submit")
        teachers = sum(1 for u in district.records("users") if u.get("role") == "teacher")
        shown = driver.find_elements(By.CSS_SELECTOR, "#results li.result")
        assert len(shown) == min(teachers, 25)
        driver.get(world["base"] + f"/diff?from={world['ids'][0]}&to=current")
        assert "+9" in by_id(driver, "section-table").text
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
