"""Shared fixtures of the kernel tests.

Fake plugin distributions live in ``tests/fixtures/site_*``: each is a folder holding real
``*.dist-info`` metadata (``METADATA`` + ``entry_points.txt``) and the plugin modules, so putting
it on ``sys.path`` (or ``PYTHONPATH`` for a ``snapkit`` subprocess) makes entry-point discovery
find them exactly as it finds an installed distribution. Nothing patches the loader.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

FIXTURES = Path(__file__).parent / "fixtures"
SITES = {
    "good": FIXTURES / "site_good",  # snapkit-fake-good (fake-good), snapkit-fake-audit
    "broken": FIXTURES / "site_broken",  # fake-broken raises on import; fake-flaky on register
    "tripwire": FIXTURES / "site_tripwire",  # records its import in $SNAPKIT_TRIPWIRE_LOG
    "problems": FIXTURES / "site_problems",  # one plugin per `validate` problem
}
SNAPKIT = Path(sys.executable).with_name("snapkit")


@pytest.fixture(autouse=True)
def _clean_snapkit_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test inherits SNAPKIT_* settings from the shell that runs the suite."""
    for name in list(os.environ):
        if name.startswith("SNAPKIT_"):
            monkeypatch.delenv(name)


@pytest.fixture
def fake_sites(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Put fake plugin distributions on ``sys.path`` for this test (in-process discovery)."""

    def add(*names: str) -> None:
        for name in names:
            monkeypatch.syspath_prepend(str(SITES[name]))

    before = set(sys.modules)
    yield add
    for module in set(sys.modules) - before:
        if module.startswith("fake_"):
            del sys.modules[module]


class SnapkitRun:
    """A finished ``snapkit`` subprocess."""

    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    def json(self) -> object:
        import json

        return json.loads(self.stdout)

    def __repr__(self) -> str:
        return f"<snapkit exit {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}>"


@pytest.fixture
def snapkit_cli(tmp_path: Path) -> Callable[..., SnapkitRun]:
    """Run the real ``snapkit`` console script with fake distributions on ``PYTHONPATH``.

    ``sites`` names folders of :data:`SITES`; ``cwd`` defaults to an empty temporary folder
    (so no config file is found unless the test writes one); ``env`` adds variables.
    """

    def run(
        *args: str,
        sites: Sequence[str] = (),
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> SnapkitRun:
        environment = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SNAPKIT_") and k != "PYTHONPATH"
        }
        environment["PYTHONPATH"] = os.pathsep.join(str(SITES[s]) for s in sites)
        environment.update(env or {})
        proc = subprocess.run(
            [str(SNAPKIT), *args],
            capture_output=True,
            text=True,
            cwd=cwd or tmp_path,
            env=environment,
            timeout=60,
        )
        return SnapkitRun(proc)

    return run
