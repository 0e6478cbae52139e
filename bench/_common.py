"""Shared helpers for the benchmarks: subprocess runs with peak RSS, tables, data generators."""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

FIRST = ("Ava", "Ben", "Chloé", "Dev", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jun")
LAST = ("Nguyen", "Smith", "García", "Okafor", "Kowalski", "Haddad", "Tanaka", "Brown")
ROLES = ("student", "student", "student", "student", "teacher", "parent", "guardian")


def users(n: int, seed: int = 0) -> Iterator[dict[str, Any]]:
    """Yield ``n`` OneRoster-like user records, deterministically."""
    for i in range(n):
        first = FIRST[(i * 7 + seed) % len(FIRST)]
        last = LAST[(i * 11 + seed) % len(LAST)]
        role = ROLES[i % len(ROLES)]
        yield {
            "sourcedId": f"u-{i:08d}",
            "status": "active",
            "dateLastModified": "2026-11-01T00:00:00Z",
            "enabledUser": True,
            "orgs": [
                {"href": f"/orgs/s-{i % 40:03d}", "sourcedId": f"s-{i % 40:03d}", "type": "org"}
            ],
            "role": role,
            "username": f"{first.lower()}.{last.lower()}{i}",
            "userIds": [{"type": "sis", "identifier": f"{100000 + i}"}],
            "givenName": first,
            "familyName": last,
            "middleName": "",
            "identifier": f"{100000 + i}",
            "email": f"{first.lower()}.{last.lower()}{i}@district.example",
            "sms": "",
            "phone": "",
            "agents": [
                {"href": f"/users/u-{i + 1:08d}", "sourcedId": f"u-{i + 1:08d}", "type": "user"}
            ]
            if role == "student"
            else [],
            "grades": [str(i % 12 + 1).zfill(2)] if role == "student" else [],
        }


USER_SCHEMA = {
    "type": "object",
    "required": ["sourcedId", "status", "role", "givenName", "familyName"],
    "properties": {
        "sourcedId": {"type": "string"},
        "status": {"enum": ["active", "tobedeleted"]},
        "enabledUser": {"type": "boolean"},
        "role": {"type": "string"},
        "givenName": {"type": "string"},
        "familyName": {"type": "string"},
        "email": {"type": "string"},
        "orgs": {"type": "array", "items": {"type": "object", "required": ["sourcedId"]}},
        "agents": {"type": "array"},
    },
}


def peak_rss_mb() -> float:
    """This process's peak resident set size, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(script: str, args: Sequence[str]) -> dict[str, Any]:
    """Run ``python script args`` and return the JSON object it prints on its last line."""
    done = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if done.returncode != 0:
        raise SystemExit(f"{script} {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(result: dict[str, Any]) -> None:
    """Print a child's result as its last line (for :func:`run_child`)."""
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print(json.dumps(result))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print an aligned table."""
    cells = [[str(h) for h in headers], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(widths[i]) if i else c.ljust(widths[i]) for i, c in enumerate(row)))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    """Return ``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def median(values: Sequence[float]) -> float:
    """The median."""
    return statistics.median(values)


def start_oneroster_server(users: int, secret: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the local OneRoster server (seed 7, OAuth2 with ``secret``) in its own process;
    return it and the JSON it printed (``base_url``, ``client_id``, ...)."""
    command = [
        sys.executable,
        "-m",
        "snapkit_oneroster.cli",
        "serve",
        "--port",
        "0",
        "--users",
        str(users),
        "--seed",
        "7",
        "--auth",
        "oauth2",
        "--client-secret",
        secret,
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("}"):
            break
    return process, json.loads("".join(lines))
