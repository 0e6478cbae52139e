"""``snapkit serve`` owns its process and freezes the objects alive at start-up out of the
garbage collector's reach (see docs/serve.md, "Performance"); ``create_app`` changes no
process-wide state, so a host mounting the app keeps its collector as it set it."""

from __future__ import annotations

import json
import re
import subprocess
import sys


def test_create_app_leaves_the_host_process_collector_alone(empty_store):
    script = (
        "import gc, json, sys\n"
        "gc.set_threshold(1234, 11, 12)\n"
        "from snapkit.project import Project\n"
        "from snapkit.serve import create_app\n"
        "create_app(Project.load(sys.argv[1]))\n"
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold(), gc.isenabled()]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(empty_store)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout) == [0, [1234, 11, 12], True]


def test_snapkit_serve_freezes_its_start_up_objects(served, empty_store):
    server = served(empty_store, args=("--log-level", "debug"))
    with server.client() as client:
        assert client.get("/api/current").status_code == 503
    match = re.search(r"froze (\d+) start-up objects", server.log())
    assert match is not None, server.log()
    assert int(match.group(1)) > 10_000
