"""The live dashboard in headless Chromium (Debian's chromium + chromedriver, as the pages'
browser tests): rapid class switching shows only the last class; tiles show their statuses;
a failing oracle fails its tiles while the other sources fill in; the exported ZIP's parity
fingerprints equal the page's. Screenshots at 1280x800 and phone width."""

from __future__ import annotations

import io
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from snapkit.serve import create_app
from snapkit.serve.api_dashboard import dashboard_of

sys.path.insert(0, str(Path(__file__).parent))
from browser import Screenshots, chromium, close_chromium, screenshot_folder
from dashboard_world import CLASSES, TITLES, Sources, make_project, serve_in_thread

WAIT = 60.0
"""How long the page may take to reach a state (a generous bound, not a timing assertion)."""

TILES = ["assessments", "proficiency", "progress", "student_support", "summary"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sources = Sources()
    project = make_project(tmp_path_factory.mktemp("live-browser"), sources)
    app = create_app(project, isolate_refresh=False)
    live, sessions = dashboard_of(app)
    with serve_in_thread(app) as url:
        yield {"sources": sources, "url": url, "live": live, "sessions": sessions}


@pytest.fixture
def fresh(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    world["live"].assembler.cache.backend.clear()
    yield world
    world["sources"].failing.clear()
    world["sources"].release_all()
    world["sources"].gates.clear()


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    browser = chromium()
    try:
        yield browser
    finally:
        close_chromium(browser)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    return Screenshots(screenshot_folder(tmp_path_factory))


def wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT, poll_frequency=0.05).until(condition)


def done(driver: Any) -> str:
    """Wait until the page's current stream completed; return its token."""

    def finished(d: Any) -> str | None:
        state = d.find_element("id", "live-state")
        token = state.get_attribute("data-token")
        return token if token and state.get_attribute("data-done") == token else None

    return str(wait(driver, finished))


def tiles(driver: Any) -> dict[str, dict[str, Any]]:
    """Each tile's status, token and figures, as the page shows them."""
    return driver.execute_script("""
        var out = {};
        document.querySelectorAll('#tiles [data-tile]').forEach(function (tile) {
          var figures = {};
          tile.querySelectorAll('[data-figure]').forEach(function (dd) {
            figures[dd.getAttribute('data-figure')] = dd.textContent; });
          out[tile.getAttribute('data-tile')] = {
            status: tile.getAttribute('data-status'), token: tile.getAttribute('data-token'),
            text: tile.textContent, figures: figures};
        });
        return out;""")


def switch(driver: Any, *class_ids: str) -> None:
    """Choose the classes one after the other, in one task of the page (as fast as a
    user's keyboard can go)."""
    driver.execute_script(
        """
        var select = document.getElementById('class-select');
        window.snapkitDashboard.shown.length = 0;  /* from here on: the new choices only */
        arguments[0].forEach(function (id) {
          select.value = id;
          select.dispatchEvent(new Event('change'));
        });""",
        list(class_ids),
    )


def test_rapid_class_switching_shows_only_the_last_class(driver, fresh, shots):
    gate = fresh["sources"].hold("class-a")  # A is still loading while B and C are chosen
    driver.get(fresh["url"] + "/dashboard")
    switch(driver, "class-a")
    first = wait(driver, lambda d: d.find_element("id", "live-state").get_attribute("data-token"))
    switch(driver, "class-b", "class-c")
    wait(driver, lambda d: d.find_element("id", "live-state").get_attribute("data-token") != first)
    gate.set()
    token = done(driver)
    shown = tiles(driver)
    assert sorted(shown) == TILES
    assert {tile["token"] for tile in shown.values()} == {token}
    assert {tile["status"] for tile in shown.values()} == {"ready"}
    assert shown["student_support"]["figures"]["total"] == str(CLASSES["class-c"])
    assert TITLES["class-c"] in shown["summary"]["text"]
    for other in ("class-a", "class-b"):
        assert TITLES[other] not in driver.find_element("id", "tiles").text
    # every message applied since B and C were chosen carried C's token: A's late results
    # never reached the page
    assert set(driver.execute_script("return window.snapkitDashboard.shown")) == {token}
    assert driver.find_element("id", "class-label").text == "of " + TITLES["class-c"]
    assert "class=class-c" in driver.current_url
    # A was in flight when C was chosen: its late results warmed the cache for A only
    live = fresh["live"]
    scope = live.find_class("class-a").scope
    wait(
        driver,
        lambda d: (
            len(live.assembler.cache.lookup(scope, live.assembler.versions(live.oracles())))
            == len(live.oracles())
        ),
    )
    shots.take(driver, "dashboard-ready", ready=lambda d: done(d))


def test_tiles_show_their_statuses_ready_and_partial(driver, fresh, shots):
    fresh["sources"].failing.add("dashboard_class")  # optional for the summary
    driver.get(fresh["url"] + "/dashboard")
    switch(driver, "class-b")
    done(driver)
    shown = tiles(driver)
    assert shown["summary"]["status"] == "partial"
    assert "missing_optional_oracle" in shown["summary"]["text"]
    assert {shown[k]["status"] for k in TILES if k != "summary"} == {"ready"}
    oracle = driver.find_element("css selector", '[data-oracle="dashboard_class"]')
    assert oracle.get_attribute("data-state") == "failed"
    shots.take(driver, "dashboard-partial", sizes=("desktop",))


def test_a_failing_oracle_shows_its_tiles_failed_while_the_others_fill_in(driver, fresh, shots):
    fresh["sources"].failing.add("dashboard_results")
    driver.get(fresh["url"] + "/dashboard")
    switch(driver, "class-d")
    done(driver)
    states = {
        item.get_attribute("data-oracle"): item.get_attribute("data-state")
        for item in driver.find_elements("css selector", "#oracle-list [data-oracle]")
    }
    assert states.pop("dashboard_results") == "failed"
    assert set(states.values()) == {"ready"} and len(states) == 3
    shown = tiles(driver)
    assert {tile["status"] for tile in shown.values()} == {"failed"}
    assert all("missing_required_oracle" in tile["text"] for tile in shown.values())
    shots.take(driver, "dashboard-failed")


def test_the_exported_zips_parity_fingerprints_equal_the_pages(driver, fresh):
    driver.get(fresh["url"] + "/dashboard")
    switch(driver, "class-a")
    done(driver)
    page = driver.execute_script("""
        var out = {};
        document.querySelectorAll('#parity tr[data-projection]').forEach(function (row) {
          out[row.getAttribute('data-projection')] =
            row.querySelector('.fingerprint').textContent; });
        return out;""")
    button = driver.find_element("id", "export-button")
    assert button.is_displayed()
    archive = httpx.get(button.get_attribute("href"), timeout=WAIT)
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive.content)).read("manifest.json"))
    assert page and page == manifest["parity"]


def test_without_javascript_the_form_renders_the_class_on_the_server(driver, fresh):
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(fresh["url"] + "/dashboard")
        from selenium.webdriver.support.ui import Select

        Select(driver.find_element("id", "class-select")).select_by_value("class-b")
        driver.find_element("id", "class-show").click()
        wait(driver, lambda d: "class=class-b" in d.current_url)
        statuses = {
            tile.get_attribute("data-tile"): tile.get_attribute("data-status")
            for tile in driver.find_elements("css selector", "#tiles [data-tile]")
        }
        assert statuses == dict.fromkeys(TILES, "ready")
        assert TITLES["class-b"] in driver.find_element("id", "tiles").text
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})
