"""A world for the live dashboard's tests: classes of the instructor dashboard served by
inline oracles (under the dashboard plugin's oracle keys) that a test can hold back or make
fail, a store holding one committed snapshot of each class, and the app served by uvicorn
in a thread of the test process (so the oracles stay under the test's control).

The classes are the small class of the dashboard plugin's tests (twelve students, five line
items) cut to a different roster each: ``class-a`` 12 students, ``class-b`` 8, ``class-c`` 10,
``class-d`` 6 (results of students outside the roster dropped), so every class's numbers
differ.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DATA = (
    Path(__file__).parents[2]
    / "contrib"
    / "instructor-dashboard"
    / "tests"
    / "data"
    / "small_class"
)
NAMESPACE = "district-7"
CLASSES = {"class-a": 12, "class-b": 8, "class-c": 10, "class-d": 6}
TITLES = {
    "class-a": "Algebra I - Period 1",
    "class-b": "Biology - Period 3",
    "class-c": "Chemistry - Period 5",
    "class-d": "Drama - Period 6",
}


def _load(name: str) -> Any:
    return json.loads((DATA / f"{name}.json").read_text(encoding="utf-8"))


class Sources:
    """The classes' source data, with gates (a class's results wait until released) and
    failures (oracle keys that raise)."""

    def __init__(self) -> None:
        self.failing: set[str] = set()
        self.gates: dict[str, threading.Event] = {}
        self.roster = sorted(_load("roster"), key=lambda s: s["sourcedId"])
        self.line_items = _load("line_items")
        self.results = _load("results")

    def hold(self, class_id: str) -> threading.Event:
        """Hold ``class_id``'s results back until the returned event is set."""
        gate = self.gates[class_id] = threading.Event()
        return gate

    def release_all(self) -> None:
        for gate in self.gates.values():
            gate.set()

    def students(self, class_id: str) -> list[dict[str, Any]]:
        return self.roster[: CLASSES[class_id]]

    def oracles(self) -> Any:
        from snapkit.testing.engine import OraclePlugin
        from snapkit_instructor_dashboard import keys
        from snapkit_instructor_dashboard.oracles import RESULT_SCHEMA, group_results

        plugin = OraclePlugin()

        def check(key: str) -> None:
            if key in self.failing:
                raise RuntimeError("source down")

        def klass(call: Any) -> Any:
            check(keys.CLASS)
            context = call.scope.context
            return {
                "sourcedId": context,
                "title": TITLES[context],
                "classCode": context.upper(),
                "course": "course-1",
                "school": "school-1",
                "container": None,
            }

        def roster(call: Any) -> Any:
            check(keys.ROSTER)
            return self.students(call.scope.context)

        def line_items(call: Any) -> Any:
            check(keys.LINE_ITEMS)
            return self.line_items

        def results(call: Any) -> Any:
            gate = self.gates.get(call.scope.context)
            if gate is not None:
                gate.wait(120)
            check(keys.RESULTS)
            ids = {s["sourcedId"] for s in self.students(call.scope.context)}
            return group_results([r for r in self.results if r["student"] in ids])

        plugin.add(keys.CLASS, klass)
        plugin.add(keys.ROSTER, roster, records=True, key_column="sourcedId")
        plugin.add(keys.LINE_ITEMS, line_items, records=True, key_column="sourcedId")
        plugin.add(
            keys.RESULTS, results, records=True, key_column="lineItem", payload_schema=RESULT_SCHEMA
        )
        return plugin


def make_project(folder: Path, sources: Sources, *, attempts: int = 1) -> Any:
    """A project over the classes, with the memory cache, one snapshot of each class."""
    import snapkit_cache.plugin as cache_plugin
    import snapkit_serializers.plugin as serializers_plugin
    from snapkit.contracts import Scope
    from snapkit.testing.engine import make_project as make
    from snapkit_instructor_dashboard.plugin import ViewsPlugin

    config = {
        "scope": {"namespace": NAMESPACE, "context": "class-a"},
        "refresh": {"attempts": attempts},
    }
    project = make(
        folder, sources.oracles(), ViewsPlugin(), serializers_plugin, cache_plugin, config=config
    )
    for class_id in CLASSES:
        outcome = project.refresh(scope=Scope(NAMESPACE, class_id))
        assert outcome.status == "success", outcome.errors
    return project


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port in a thread; yields the base URL."""
    import httpx
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="dashboard-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/refresh", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(30)


def expected_students(class_id: str) -> int:
    """How many students ``class_id`` has."""
    return CLASSES[class_id]
