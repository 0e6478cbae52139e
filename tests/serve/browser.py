"""Helpers for the pages' tests: a real project, refreshes at chosen times, and headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium; nothing is
downloaded). The servers are real ``snapkit serve`` processes from ``conftest.py``.

The project snapshots two sources through real refreshes: a ``scores`` table read by the
``files`` oracle from a JSON Lines file the test rewrites (so a score changes by a known
amount), and a small OneRoster district served by the OneRoster plugin's local server
(users, with students, teachers and guardians linked to their children). A snapshot's age is
set by running its refresh with the refresh engine's clock (``snapkit.refresh.utc_now``) set
to a chosen time; the store is written only through the refresh.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

SECRET_ENV = "SNAPKIT_PAGES_TEST_ONEROSTER_SECRET"
SECRET = "pages-test-oneroster-secret"

CONFIG = """\
[store]
kind = "file"
path = "store"

[scope]
namespace = "pages-test-district"

[oracles.scores]
kind = "files"
path = "source/scores.jsonl"
key_column = "id"

[oracles.oneroster]
base_url = "{base_url}"
auth = "oauth2"
token_url = "{token_url}"
client_id = "{client_id}"
client_secret = {{ env = "{secret_env}" }}
page_size = 100
tables = ["users", "orgs"]

[search]
index = {{ users = ["familyName", "email"] }}
"""

SCORES = [
    {"id": "r-001", "student": "s-001", "item": "quiz-1", "score": 71},
    {"id": "r-002", "student": "s-002", "item": "quiz-1", "score": 88},
    {"id": "r-003", "student": "s-003", "item": "quiz-1", "score": 64},
]


def iso(when: _dt.datetime) -> str:
    return when.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class TestProject:
    """A project folder: its config, its scores source, and refreshes at chosen times."""

    __test__ = False

    def __init__(self, folder: Path, oneroster: Any) -> None:
        self.folder = folder
        self.config = folder / "snapkit.toml"
        (folder / "source").mkdir(parents=True, exist_ok=True)
        self.config.write_text(
            CONFIG.format(
                base_url=oneroster.base_url,
                token_url=oneroster.token_url,
                client_id=oneroster.client_id,
                secret_env=SECRET_ENV,
            ),
            encoding="utf-8",
        )
        self.scores_file = folder / "source" / "scores.jsonl"
        self.write_scores(SCORES)

    def write_scores(self, rows: list[dict[str, Any]]) -> None:
        self.scores_file.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")

    def set_score(self, record_id: str, score: int) -> None:
        rows = [json.loads(line) for line in self.scores_file.read_text("utf-8").splitlines()]
        for row in rows:
            if row["id"] == record_id:
                row["score"] = score
        self.write_scores(rows)

    def project(self) -> Any:
        from snapkit import open_project

        return open_project(self.config)

    def refresh_at(self, when: _dt.datetime) -> str:
        """Refresh with the engine's clock at ``when``; returns the committed snapshot id."""
        import snapkit.refresh

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(snapkit.refresh, "utc_now", lambda: iso(when))
            outcome = self.project().refresh()
        assert outcome.status == "success", outcome
        return str(outcome.manifest.id)

    def refresh_ago(self, **delta: float) -> str:
        return self.refresh_at(_dt.datetime.now(_dt.UTC) - _dt.timedelta(**delta))


@contextlib.contextmanager
def environment() -> Iterator[None]:
    """The secret the test config names, set in this process (servers inherit it)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, SECRET)
        yield


def chromium() -> Any:
    """A headless Chromium driven through Debian's chromedriver; fails (never skips) when
    the browser is not installed."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: "
            "apt-get install -y chromium chromium-driver (.ci/run does)"
        )
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="snapkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.profile_dir = profile
    return driver


def close_chromium(driver: Any) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.profile_dir, ignore_errors=True)


VIEWPORTS = {"desktop": (1280, 800), "phone": (390, 844)}


def viewport(driver: Any, name: str) -> None:
    """Set the page's viewport exactly (device metrics, not the window's outer size)."""
    width, height = VIEWPORTS[name]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": name == "phone"},
    )


class Screenshots:
    """Writes full-page screenshots at each viewport into ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.written: list[Path] = []

    def take(
        self,
        driver: Any,
        name: str,
        *,
        sizes: tuple[str, ...] = ("desktop", "phone"),
        ready: Callable[[Any], Any] | None = None,
    ) -> list[Path]:
        import base64

        taken = []
        for size in sizes:
            viewport(driver, size)
            if ready is not None:
                ready(driver)
            width, height = VIEWPORTS[size]
            full = int(
                driver.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
            )
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {
                        "x": 0,
                        "y": 0,
                        "width": width,
                        "height": max(height, full),
                        "scale": 1,
                    },
                },
            )
            path = self.folder / f"{name}-{size}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            taken.append(path)
        viewport(driver, "desktop")
        self.written.extend(taken)
        return taken


def screenshot_folder(factory: pytest.TempPathFactory) -> Path:
    """``$SNAPKIT_SCREENSHOTS`` if set, else a temporary folder."""
    named = os.environ.get("SNAPKIT_SCREENSHOTS")
    folder = Path(named) if named else factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
