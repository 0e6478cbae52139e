"""The live dashboard's event stream and sessions (``GET /api/dashboard/{class}/events``) and
its server-rendered page, against a real uvicorn serving inline oracles (dashboard_world)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from snapkit.contracts import ProjectionResult
from snapkit.serve import create_app
from snapkit.serve.api_dashboard import COOKIE, dashboard_of, tile_view

sys.path.insert(0, str(Path(__file__).parent))
from dashboard_world import CLASSES, TITLES, Sources, make_project, serve_in_thread

WAIT = 60.0
"""A generous bound for a stream to reach a state (not a timing assertion)."""

TILES = ["assessments", "proficiency", "progress", "student_support", "summary"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    sources = Sources()
    project = make_project(tmp_path_factory.mktemp("live"), sources)
    app = create_app(project, isolate_refresh=False)
    live, sessions = dashboard_of(app)
    with serve_in_thread(app) as url:
        yield {
            "sources": sources,
            "project": project,
            "url": url,
            "live": live,
            "sessions": sessions,
        }


@pytest.fixture
def fresh(world: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The world with an empty cache and every source answering; restored after the test."""
    world["live"].assembler.cache.backend.clear()
    yield world
    world["sources"].failing.clear()
    world["sources"].release_all()
    world["sources"].gates.clear()
    world["live"].linger = 5.0
    world["live"].build_timeout = 30.0


@pytest.fixture
def client(fresh: dict[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh["url"]) as opened:
        yield opened


def events(
    response: httpx.Response,
    until: tuple[str, ...] = ("complete", "timeout"),
    into: list[tuple[str, dict[str, Any]]] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """Read server-sent events until one named in ``until`` (inclusive)."""
    seen = into if into is not None else []
    name = None
    lines = getattr(response, "_dashboard_lines", None)
    if lines is None:  # one iterator per response: a later call reads on where this stops
        lines = response._dashboard_lines = response.iter_lines()  # type: ignore[attr-defined]
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name is not None:
            seen.append((name, json.loads(line[len("data: ") :])))
            if name in until:
                return seen
            name = None
    return seen


def stream(
    client: httpx.Client,
    class_id: str,
    page: str | None = None,
    seq: int | None = None,
    cookie: str | None = None,
) -> Any:
    params = {k: v for k, v in (("page", page), ("seq", seq)) if v is not None}
    client.cookies.clear()
    return client.stream(
        "GET",
        f"/api/dashboard/{class_id}/events",
        params=params,
        cookies={COOKIE: cookie} if cookie else None,
        timeout=httpx.Timeout(WAIT),
    )


def wait_until(condition: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.02)


def by_name(seen: list[tuple[str, dict[str, Any]]], name: str) -> list[dict[str, Any]]:
    return [data for event, data in seen if event == name]


def test_a_class_streams_its_session_sources_tiles_and_completion(fresh):
    with httpx.Client(base_url=fresh["url"]) as client, stream(client, "class-c") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        seen = events(response)
    names = [name for name, _ in seen]
    assert names[:2] == ["session", "loading"] and names[-1] == "complete"
    session = by_name(seen, "session")[0]
    assert session["class_id"] == "class-c" and session["label"] == TITLES["class-c"]
    assert session["cache"] == "memory"
    token = session["token"]
    assert {data["token"] for _, data in seen} == {token}
    oracles = by_name(seen, "oracle")
    assert sorted(o["key"] for o in oracles) == sorted(by_name(seen, "loading")[0]["oracles"])
    assert {(o["state"], o["source"]) for o in oracles} == {("ready", "loaded")}
    tiles = {t["key"]: t for t in by_name(seen, "tile")}
    assert sorted(tiles) == TILES
    assert {t["status"] for t in tiles.values()} == {"ready"}
    figures = {f["label"]: f["value"] for f in tiles["student_support"]["figures"]}
    assert figures["total"] == str(CLASSES["class-c"])
    assert 'data-status="ready"' in tiles["progress"]["html"]
    assert by_name(seen, "complete")[0]["sources"] == {"loaded": 4}


def test_a_tile_arrives_as_soon_as_the_oracles_it_reads_have_answered(fresh):
    with httpx.Client(base_url=fresh["url"]) as client, stream(client, "class-b") as response:
        seen = events(response)
    order = [(name, data.get("key")) for name, data in seen if name in ("oracle", "tile")]
    first_tile = next(i for i, (name, _) in enumerate(order) if name == "tile")
    # every tile reads the results; none is sent before the last source answered
    assert [name for name, _ in order[:first_tile]] == ["oracle"] * 4


def test_a_second_visit_is_hydrated_from_the_cache(fresh, client):
    with stream(client, "class-a") as response:
        first = events(response)
    with stream(client, "class-a") as response:
        second = events(response)
    assert by_name(first, "complete")[0]["sources"] == {"loaded": 4}
    assert by_name(second, "complete")[0]["sources"] == {"cache": 4}
    assert {o["source"] for o in by_name(second, "oracle")} == {"cache"}
    tiles = lambda seen: {t["key"]: t["figures"] for t in by_name(seen, "tile")}  # noqa: E731
    assert tiles(first) == tiles(second)


def test_a_failing_oracle_fails_the_tiles_reading_it_while_the_others_arrive(fresh):
    fresh["sources"].failing.add("dashboard_results")
    with httpx.Client(base_url=fresh["url"]) as client, stream(client, "class-d") as response:
        seen = events(response)
    states = {o["key"]: (o["state"], o["reason"]) for o in by_name(seen, "oracle")}
    assert states["dashboard_results"][0] == "failed" and states["dashboard_results"][1]
    assert {states[k][0] for k in states if k != "dashboard_results"} == {"ready"}
    tiles = {t["key"]: t for t in by_name(seen, "tile")}
    assert {t["status"] for t in tiles.values()} == {"failed"}
    assert {t["reason"] for t in tiles.values()} == {"missing_required_oracle"}
    assert by_name(seen, "complete")[0]["sources"] == {"error": 1, "loaded": 3}


def test_an_optional_oracle_failing_makes_its_tile_partial(fresh):
    fresh["sources"].failing.add("dashboard_class")
    with httpx.Client(base_url=fresh["url"]) as client, stream(client, "class-a") as response:
        seen = events(response)
    statuses = {t["key"]: (t["status"], t["reason"]) for t in by_name(seen, "tile")}
    assert statuses.pop("summary") == ("partial", "missing_optional_oracle")
    assert {status for status, _ in statuses.values()} == {"ready"}


def test_a_build_timeout_shows_what_arrived_and_the_rest_unavailable(fresh):
    fresh["live"].build_timeout = 0.5
    fresh["sources"].hold("class-b")
    with httpx.Client(base_url=fresh["url"]) as client, stream(client, "class-b") as response:
        seen = events(response)
    missing = by_name(seen, "timeout")[0]["missing"]
    assert "dashboard_results" in missing and missing == sorted(missing)
    states = {o["key"]: o["state"] for o in by_name(seen, "oracle")}
    assert {states[key] for key in missing} == {"timed out"}
    assert {states[key] for key in states if key not in missing} <= {"ready"}
    assert {t["status"] for t in by_name(seen, "tile")} == {"unavailable"}


def test_one_coordinator_session_per_browser_session(fresh, client):
    sessions = fresh["sessions"]
    earlier = set(sessions.sessions)
    with (
        stream(client, "class-a", "browser-one") as one,
        stream(client, "class-a", "browser-one") as two,
        stream(client, "class-a", "browser-two") as three,
    ):
        for response in (one, two, three):
            events(response, until=("session",))
        assert sorted(set(sessions.sessions) - earlier) == ["browser-one", "browser-two"]
        assert sessions.sessions["browser-one"].streams == 2
        assert sessions.sessions["browser-one"].driver is not None


def test_a_browser_without_a_page_id_gets_the_session_of_its_cookie(fresh, client):
    sessions = fresh["sessions"]
    earlier = set(sessions.sessions)
    with (
        stream(client, "class-a", cookie="cookie-one") as one,
        stream(client, "class-b", cookie="cookie-one") as two,
    ):
        events(one, until=("session",))
        events(two, until=("session",))
        (added,) = set(sessions.sessions) - earlier
        assert sessions.sessions[added].streams == 2
        assert "cookie-one" not in added  # the cookie's value is not shown in tokens


def test_a_switch_overtaken_by_a_later_one_is_refused(fresh, client):
    sessions = fresh["sessions"]
    with stream(client, "class-c", "overtaken", 5) as later:
        events(later, until=("session",))
        with stream(client, "class-a", "overtaken", 4) as earlier:
            assert earlier.status_code == 204
        assert sessions.sessions["overtaken"].driver.state.counter == 1
        bad = client.get("/api/dashboard/class-a/events", params={"page": "x"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "bad_parameter"


def test_the_session_is_closed_when_its_last_stream_closes(fresh, client):
    fresh["live"].linger = 0
    sessions = fresh["sessions"]
    with stream(client, "class-c", "closing-browser") as response:
        events(response)
        assert "closing-browser" in sessions.sessions
    wait_until(lambda: "closing-browser" not in sessions.sessions)


def test_a_class_switch_within_the_linger_keeps_the_session(fresh, client):
    fresh["live"].linger = 60
    sessions = fresh["sessions"]
    with stream(client, "class-a", "switching") as response:
        events(response, until=("session",))
        session = sessions.sessions["switching"]
    with stream(client, "class-b", "switching") as response:
        events(response)
        assert sessions.sessions["switching"] is session
        assert session.driver.state.counter == 2


def test_a_stale_token_never_reaches_a_stream_but_warms_the_cache(fresh, client):
    """A -> B -> C in one session while A loads: B is replaced in the queue, A's results
    arrive after C was asked for; only C's messages are sent, and A's results are cached."""
    gate = fresh["sources"].hold("class-a")
    live = fresh["live"]
    received: dict[str, list[tuple[str, dict[str, Any]]]] = {"a": [], "b": [], "c": []}
    with stream(client, "class-a", "switch-abc", 1) as a:
        events(a, until=("loading",), into=received["a"])
        with stream(client, "class-b", "switch-abc", 2) as b:
            events(b, until=("session",), into=received["b"])
            with stream(client, "class-c", "switch-abc", 3) as c:
                events(c, until=("session",), into=received["c"])
                state = fresh["sessions"].sessions["switch-abc"].driver.state
                assert state.phase == "queued" and state.queued.scope.context == "class-c"
                reader = threading.Thread(target=events, args=(c,), kwargs={"into": received["c"]})
                reader.start()
                gate.set()
                reader.join(WAIT)
    token_c = by_name(received["c"], "session")[0]["token"]
    assert {data["token"] for _, data in received["c"]} == {token_c}
    assert by_name(received["c"], "complete")
    assert not by_name(received["b"], "tile") and not by_name(received["a"], "tile")
    summary = next(t for t in by_name(received["c"], "tile") if t["key"] == "summary")
    assert TITLES["class-c"] in summary["html"]
    # A's stale results were written to the cache for A's own scope
    choice = live.find_class("class-a")
    hits = live.assembler.cache.lookup(choice.scope, live.assembler.versions(live.oracles()))
    assert sorted(hits) == sorted(live.oracles())


def test_an_unknown_class_is_a_json_404(fresh):
    with httpx.Client(base_url=fresh["url"]) as client:
        response = client.get("/api/dashboard/no-such-class/events")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "unknown_class"
    assert "no-such-class" not in fresh["sessions"].sessions


def test_the_page_renders_a_class_on_the_server_without_javascript(fresh):
    project = fresh["project"]
    before = [info.id for info in project.snapshots()]
    with httpx.Client(base_url=fresh["url"]) as client:
        page = client.get("/dashboard", params={"class": "class-b"})
        empty = client.get("/dashboard")
        missing = client.get("/dashboard", params={"class": "nope"})
    assert page.status_code == 200 and COOKIE in page.cookies
    html = page.text
    for key in TILES:
        assert f'data-tile="{key}" data-status="ready"' in html
    assert TITLES["class-b"] in html
    assert f'data-figure="total">{CLASSES["class-b"]}<' in html
    assert "/api/snapshots/" in html and "profile=instructor_dashboard" in html
    assert html.count('class="fingerprint"') >= 1
    assert empty.status_code == 200 and 'data-status="waiting"' in empty.text
    assert missing.status_code == 404 and "no class" in missing.text
    # the page reads the store and hydrates from oracles: it never writes a snapshot
    assert [info.id for info in project.snapshots()] == before


def test_the_pages_fingerprints_are_the_export_zips(fresh):
    import io
    import re
    import zipfile

    with httpx.Client(base_url=fresh["url"], timeout=WAIT) as client:
        html = client.get("/dashboard", params={"class": "class-a"}).text
        url = re.search(r'id="export-button" href="([^"]+)"', html).group(1)
        archive = client.get(url.replace("&amp;", "&"))
    assert archive.status_code == 200
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(archive.content)).read("manifest.json"))
    shown = dict(
        re.findall(
            r'<tr data-projection="([^"]+)"><th scope="row">[^<]+</th><td><code '
            r'class="fingerprint">([^<]+)</code>',
            html,
        )
    )
    assert shown and shown == manifest["parity"]


def test_a_tile_shows_headline_figures_counts_and_row_counts():
    result = ProjectionResult(
        "support",
        "ready",
        value={
            "total": 12,
            "rate": 66.6667,
            "as_of": "2025-09-20",
            "none": None,
            "counts": {"excelling": 3, "struggling": 2},
            "students": {"id": ["a", "b"], "name": ["A", "B"]},
            "items": [{"x": 1}],
        },
    )
    view = tile_view(result, "Support category per student")
    assert (view["title"], view["about"]) == ("Support", "Support category per student")
    assert view["figures"] == [
        {"label": "total", "value": "12"},
        {"label": "rate", "value": "66.67"},
        {"label": "as of", "value": "2025-09-20"},
        {"label": "students", "value": "2 rows"},
        {"label": "items", "value": "1 rows"},
    ]
    assert view["groups"] == [
        {
            "label": "counts",
            "items": [{"label": "excelling", "value": "3"}, {"label": "struggling", "value": "2"}],
        }
    ]
    failed = tile_view(ProjectionResult("support", "failed", "derivation_error", message="boom"))
    assert (failed["status"], failed["reason"], failed["figures"]) == (
        "failed",
        "derivation_error",
        [],
    )


def test_the_dashboard_never_writes_the_store(fresh, tmp_path: Path):
    project = fresh["project"]
    before = [info.id for info in project.snapshots()]
    with httpx.Client(base_url=fresh["url"]) as client, stream(client, "class-d") as response:
        events(response)
    assert [info.id for info in project.snapshots()] == before
