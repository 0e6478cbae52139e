"""Benchmark: a whole-district OneRoster refresh from the local server, and snapkit's share.

The local OneRoster server runs in its own process (``python -m snapkit_oneroster.cli
serve``), as a real provider would, over a synthetic district of N users (50,000 by default:
about 357,000 records in nine tables). In this process, in the same run:

- **HTTP only**: every page of every table read with a bare ``httpx`` client, the same page
  size and the same concurrency as the refresh (4 tables at a time), JSON decoded and nothing
  else -- the time the network and the server need;
- **snapkit refresh**: ``Project.refresh()`` with ``[oracles.oneroster]`` -- OAuth 2.0,
  paging, normalization, validation against the record schemas, canonical JSON, zstd, SHA-256,
  commit.

Snapkit's own share is the refresh's wall time beyond the HTTP-only time, over the refresh's
wall time. Target: under 20 %.

Usage::

    python bench/fetch.py                # 50,000 users
    python bench/fetch.py --users 10000

Needs ``snapkit-oneroster`` and ``snapkit-file-store`` installed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

SECRET = "bench-fetch-secret"
PAGE_SIZE = 5000
CONCURRENCY = 4


def start_server(users: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """Start the server in its own process; return it and what it printed."""
    command = [sys.executable, "-m", "snapkit_oneroster.cli", "serve", "--port", "0",
               "--users", str(users), "--seed", "7", "--auth", "oauth2",
               "--client-secret", SECRET]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("}"):
            break
    return process, json.loads("".join(lines))


def http_only(info: dict[str, Any]) -> tuple[float, float, int, int]:
    """Read every page of every table with bare httpx; return (wall seconds, CPU seconds of
    this process, records, calls)."""
    import httpx
    from snapkit_oneroster.schema import TABLES

    token = httpx.post(info["token_url"], data={"grant_type": "client_credentials"},
                       auth=(info["client_id"], SECRET)).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def read(table: str) -> tuple[int, int]:
        records = calls = 0
        with httpx.Client(base_url=info["base_url"] + "/", headers=headers,
                          timeout=60) as client:
            offset = 0
            while True:
                response = client.get(table, params={"limit": PAGE_SIZE, "offset": offset,
                                                     "sort": "sourcedId"})
                calls += 1
                page = response.json()[TABLES[table].many]
                records += len(page)
                offset += len(page)
                if len(page) < PAGE_SIZE or offset >= int(response.headers["X-Total-Count"]):
                    return records, calls

    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        counts = list(pool.map(read, sorted(TABLES, key=lambda t: -len(t))))
    return (time.perf_counter() - started, time.process_time() - cpu,
            sum(c[0] for c in counts), sum(c[1] for c in counts))


def refresh(info: dict[str, Any], folder: Path) -> tuple[float, float, Any]:
    """Run the refresh; return (wall seconds, CPU seconds of this process, outcome)."""
    import snapkit_oneroster.plugin as plugin

    from snapkit.testing.engine import make_project

    section = {"base_url": info["base_url"], "client_id": info["client_id"],
               "client_secret": SECRET, "page_size": PAGE_SIZE}
    project = make_project(folder, plugin, config={
        "oracles": {"oneroster": section}, "refresh": {"concurrency": CONCURRENCY}})
    cpu, started = time.process_time(), time.perf_counter()
    outcome = project.refresh()
    return time.perf_counter() - started, time.process_time() - cpu, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    args = parser.parse_args()
    print(f"starting the local OneRoster server ({args.users:,} users) in its own process...")
    process, info = start_server(args.users)
    try:
        http_seconds, http_cpu, records, calls = http_only(info)
        with tempfile.TemporaryDirectory() as tmp:
            wall, cpu, outcome = refresh(info, Path(tmp))
    finally:
        process.terminate()
        process.wait(10)
    if outcome.status != "success":
        raise SystemExit(f"refresh {outcome.status}: {outcome.errors}")
    stored = sum(p.records for p in outcome.manifest.parts)
    from snapkit_oneroster.layout import run_metric

    api_calls = run_metric(outcome.manifest, "api_calls")
    share = max(0.0, wall - http_seconds) / wall
    print(f"records            {stored:,} in {len(outcome.manifest.parts)} tables "
          f"(HTTP only read {records:,} in {calls} calls; refresh made "
          f"{api_calls} calls)")
    print(f"HTTP only          {http_seconds:6.2f} s  ({records / http_seconds:,.0f} records/s; "
          f"{http_cpu:.2f} s CPU in this process)")
    print(f"snapkit refresh    {wall:6.2f} s  ({stored / wall:,.0f} records/s; "
          f"{cpu:.2f} s CPU in this process)")
    verdict = "ok" if share < 0.20 else "MISSED"
    print(f"outside HTTP       {share:6.1%}  (target < 20 %: {verdict})")
    per_record = (cpu - http_cpu) / stored * 1e6
    print(f"snapkit's own CPU  {cpu - http_cpu:6.2f} s  ({per_record:.1f} us per record beyond "
          f"HTTP + JSON decoding; {os.cpu_count()} CPUs shared with the server process)")


if __name__ == "__main__":
    main()
