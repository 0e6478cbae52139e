"""The pages as HTML (no browser): what each says, which snapshot it names, and how bad
input is answered (a friendly page with 400/404, never a traceback)."""

from __future__ import annotations

import datetime as _dt
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.testclient import TestClient

from snapkit.serve import pages
from snapkit.serve.state import ServeState
from snapkit_oneroster.district import District
from snapkit_oneroster.relations import build_households
from snapkit_oneroster.server import serve

sys.path.insert(0, str(Path(__file__).parent))
from browser import SECRET, TestProject, environment

IDLE: dict[str, Any] = {"running": False, "run": None, "lock": None, "last_failure": None}


class FakeRuns:
    """Stands in for the refresh runs: answers ``status()`` with a given dict."""

    def __init__(self, status: dict[str, Any] | None = None) -> None:
        self.answer = status or IDLE

    def status(self) -> dict[str, Any]:
        return self.answer


def client_for(project: Any, runs: FakeRuns | None = None) -> TestClient:
    state = ServeState(
        project=project,
        runs=runs or FakeRuns(),  # type: ignore[arg-type]
        settings=project.config.serve,
    )
    static = Path(pages.__file__).parent / "static"
    app = Starlette(
        routes=[
            *pages.routes(state),
            Mount("/static", app=StaticFiles(directory=static), name="static"),
        ]
    )
    return TestClient(app)


@pytest.fixture(scope="module")
def district() -> District:
    return District.generate(seed=5, users=150)


@pytest.fixture(scope="module")
def world(district: District, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A project with three snapshots (10 days, 3 days and 2 hours old); score r-001 goes
    71 -> 78 -> 80."""
    with environment(), serve(district, auth="both", client_secret=SECRET) as oneroster:
        made = TestProject(tmp_path_factory.mktemp("pages-world"), oneroster)
        ids = [made.refresh_ago(days=10)]
        made.set_score("r-001", 78)
        ids.append(made.refresh_ago(days=3))
        made.set_score("r-001", 80)
        ids.append(made.refresh_ago(hours=2))
        yield {"made": made, "project": made.project(), "ids": ids}


@pytest.fixture
def client(world: dict[str, Any]) -> TestClient:
    return client_for(world["project"])


def test_status_page_shows_the_badge_counts_and_which_snapshot(
    client: TestClient, world: dict[str, Any]
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    html = page.text
    current = world["ids"][-1]
    assert 'data-colour="green"' in html and "Snapshot: 2 hours ago" in html
    assert f'Answer from snapshot <code title="{current}">{current[:12]}</code>' in html
    assert '<th scope="row">scores</th><td class="num">3</td>' in html
    assert '<th scope="row">users</th>' in html
    assert "155 records in 3 tables; snapshot " in html
    assert 'id="refresh-button"' in html and ">Refresh</button>" in html
    assert '<script src="/static/snapkit.js" defer></script>' in html


def test_status_page_without_a_snapshot_offers_to_create_one(
    tmp_path: Path, district: District
) -> None:
    with environment(), serve(district, auth="both", client_secret=SECRET) as oneroster:
        empty = TestProject(tmp_path, oneroster).project()
        page = client_for(empty).get("/")
    assert page.status_code == 200
    assert "No snapshot yet" in page.text and ">Create snapshot</button>" in page.text
    assert "Answer from snapshot" not in page.text


def test_status_page_during_a_refresh_shows_progress_per_oracle(world: dict[str, Any]) -> None:
    run = {
        "run_id": "r1",
        "state": "running",
        "started_at": "2026-12-06T02:00:00.000000Z",
        "finished_at": None,
        "elapsed_s": 65.0,
        "client": "127.0.0.1",
        "oracles": {
            "scores": {"state": "done", "records": 3, "attempt": 1},
            "users": {"state": "running", "records": 1200, "attempt": 1},
        },
        "snapshot_id": None,
        "pointer_moved": None,
        "error": None,
    }
    page = client_for(world["project"], FakeRuns({**IDLE, "running": True, "run": run})).get("/")
    assert 'data-colour="blue"' in page.text and "Fetching: 1 min 5 s" in page.text
    assert 'data-run="r1"' in page.text
    assert 'data-oracle="users" data-state="running"' in page.text
    assert "1,200 records" in page.text
    assert 'id="refresh-button"' not in page.text


def test_status_page_after_a_failure_names_the_reason_and_offers_retry(
    world: dict[str, Any],
) -> None:
    failure = {
        "snapshot_id": "ab" * 32,
        "created_at": "2026-12-06T02:00:00.000000Z",
        "reason": "oracle_error",
        "message": "oracle 'scores': no such file",
    }
    page = client_for(world["project"], FakeRuns({**IDLE, "last_failure": failure})).get("/")
    assert 'data-colour="red"' in page.text and "Refresh failed" in page.text
    assert "oracle_error: oracle &#39;scores&#39;: no such file" in page.text
    assert ">Retry</button>" in page.text
    assert f'href="/history#snapshot-{"ab" * 6}"' in page.text
    assert "still answer from the last good snapshot" in page.text


def test_guardian_search_lists_linked_children(client: TestClient, district: District) -> None:
    households = build_households(district.records("users"))
    guardian = next(g for g in sorted(households.children) if households.children_of(g))
    family = district.value("users", guardian, "familyName")
    page = client.get("/search", params={"in": "guardians", "q": f"familyName={family}"})
    assert page.status_code == 200
    for child in households.children_of(guardian):
        assert district.value("users", child, "givenName") in page.text
    assert "Children (" in page.text


def test_student_and_teacher_searches_keep_to_their_role(client: TestClient) -> None:
    students = client.get("/search", params={"in": "students", "q": ""})
    assert students.status_code == 200
    assert "<dt>role</dt><dd>student</dd>" in students.text
    assert "<dd>teacher</dd>" not in students.text
    teachers = client.get("/search", params={"in": "teachers", "q": ""})
    assert "<dt>role</dt><dd>teacher</dd>" in teachers.text
    assert "<dd>student</dd>" not in teachers.text


def test_search_names_the_snapshot_and_the_index_it_used(
    client: TestClient, world: dict[str, Any]
) -> None:
    page = client.get("/search", params={"in": "table:users", "q": "familyName^=A"})
    assert page.status_code == 200
    assert world["ids"][-1][:12] in page.text
    assert "answered from the index on" in page.text


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"in": "table:users", "q": 'name="unbalanced'}, 400, "cannot read the query"),
        ({"in": "table:nothing", "q": "x"}, 400, "nothing called"),
        ({"in": "table:users", "q": ""}, 400, "the query is empty"),
        ({"in": "table:users", "q": "x", "offset": "-1"}, 400, "offset"),
    ],
)
def test_bad_searches_get_a_friendly_message(
    client: TestClient, params: dict[str, str], status: int, words: str
) -> None:
    page = client.get("/search", params=params)
    assert page.status_code == status
    assert 'role="alert"' in page.text and words in page.text
    assert "Traceback" not in page.text


def test_what_a_user_types_is_escaped(client: TestClient) -> None:
    page = client.get("/search", params={"in": "table:users", "q": "<script>alert(1)</script>"})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text


def test_history_lists_every_snapshot_with_status_age_and_counts(
    client: TestClient, world: dict[str, Any]
) -> None:
    page = client.get("/history")
    assert page.status_code == 200
    html = page.text
    for snapshot_id, age in zip(world["ids"], ("10 days ago", "3 days ago", "2 hours ago")):
        assert snapshot_id[:12] in html
        assert age in html
    assert html.count('class="pill pill-success"') == 3
    assert 'class="current" aria-current="true"' in html
    assert f"/diff?from={world['ids'][1]}&amp;to={world['ids'][2]}" in html


def test_diff_shows_the_changed_score_with_its_delta(
    client: TestClient, world: dict[str, Any]
) -> None:
    first, _second, third = world["ids"]
    page = client.get("/diff", params={"from": first[:12], "to": third[:12]})
    assert page.status_code == 200
    html = page.text
    assert f'From snapshot <code title="{first}">' in html
    assert (
        '<tr><th scope="row"><code>r-001</code></th><td data-label="Field">score</td>'
        '<td data-label="Before" class="before">71'
        '</td><td data-label="After" class="after">80</td><td data-label="Change" class="num">'
        '<span class="delta delta-up">+9'
    ) in html
    assert 'id="section-table"' in html and 'id="section-summary"' in html


def test_diff_defaults_to_the_previous_and_the_current_snapshot(
    client: TestClient, world: dict[str, Any]
) -> None:
    page = client.get("/diff")
    assert page.status_code == 200
    assert "+2" in page.text and world["ids"][1][:12] in page.text


@pytest.mark.parametrize(
    ("params", "status", "words"),
    [
        ({"from": "0000000000", "to": "current"}, 404, "0000000000"),
        ({"from": "../etc", "to": "current"}, 400, ""),
        ({"from": "current~9", "to": "current"}, 404, "has named only 3 snapshot(s)"),
        ({"from": "current"}, 400, "Choose both snapshots"),
    ],
)
def test_bad_diff_references_get_a_friendly_message(
    client: TestClient, params: dict[str, str], status: int, words: str
) -> None:
    page = client.get("/diff", params=params)
    assert page.status_code == status
    assert 'role="alert"' in page.text and words in page.text
    assert "Traceback" not in page.text


def test_pages_load_their_one_stylesheet_and_script_locally(client: TestClient) -> None:
    html = client.get("/").text
    assert "http://" not in html.split("<body")[0] and "https://" not in html
    assert client.get("/static/snapkit.css").status_code == 200
    assert client.get("/static/snapkit.js").status_code == 200


def test_every_age_is_measured_from_now(world: dict[str, Any]) -> None:
    """The world's snapshots were created at the times the refresh clock said."""
    from snapkit.contracts import parse_time

    created = [parse_time(world["project"].resolve(i).created_at) for i in world["ids"]]
    now = _dt.datetime.now(_dt.UTC)
    assert [round((now - c).total_seconds() / 3600) for c in created] == [240, 72, 2]


def test_templates_and_static_files_ship_with_the_package() -> None:
    """Every template and static file matches a package-data pattern of pyproject.toml."""
    import fnmatch
    import tomllib

    package = Path(pages.__file__).parent.parent
    pyproject = tomllib.loads((package.parent / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["snapkit"]
    files = [
        p
        for folder in ("templates", "static")
        for p in (package / "serve" / folder).rglob("*")
        if p.is_file()
    ]
    assert files
    for path in files:
        relative = path.relative_to(package).as_posix()
        assert any(fnmatch.fnmatch(relative, pattern) for pattern in patterns), relative


def test_pages_mounted_in_a_host_app_link_under_its_prefix(world: dict[str, Any]) -> None:
    from snapkit.serve import create_app

    host = Starlette(routes=[Mount("/snapkit", app=create_app(world["project"]))])
    client = TestClient(host)
    page = client.get("/snapkit/")
    assert page.status_code == 200
    assert 'href="/snapkit/static/snapkit.css"' in page.text
    assert 'href="/snapkit/search"' in page.text and 'data-root="/snapkit"' in page.text
    assert client.get("/snapkit/static/snapkit.js").status_code == 200
    assert client.get("/snapkit/history").status_code == 200
