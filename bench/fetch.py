"""Benchmark: a whole-district OneRoster refresh from the local server, and snapkit's share.

The local OneRoster server runs in its own process (``python -m snapkit_oneroster.cli
serve``), as a real provider would, over a synthetic district of N users (50,000 by default:
about 357,000 records in nine tables). In this process, in the same run:

- **HTTP only**: every page of every table read with a bare ``httpx`` client, the same page
  size, the same concurrency (4 tables at a time, started in the refresh's order) and the same
  JSON decoder as the refresh's client (orjson when installed), and nothing else -- the time
  the network and the server need;
- **snapkit refresh**: ``Project.refresh()`` with ``[oracles.oneroster]`` -- OAuth 2.0,
  paging, normalization, validation against the record schemas, canonical JSON, zstd, SHA-256,
  commit.

Before either is timed, one page of every table is read, so that neither pays for the
server's first answer to a query (it keeps each query's sorted ids). The HTTP-only read runs
with the garbage-collector thresholds a refresh sets while its oracles run (fewer full
collections), so that the decoding both do costs the same in both. With ``--rounds N`` the
two alternate N times and the medians are printed as well, since a shared machine makes
single runs noisy.

Snapkit's own share is the refresh's wall time beyond the HTTP-only time, over the refresh's
wall time. Target: under 20 %. Its CPU beyond HTTP is this process's CPU time in the refresh
minus its CPU time in the HTTP-only read (the same requests and JSON decoding); the server's
CPU, in its own process, is printed beside each but counted in neither.

Usage::

    python bench/fetch.py                # 50,000 users
    python bench/fetch.py --users 10000 --rounds 3

Needs ``snapkit-oneroster`` and ``snapkit-file-store`` installed.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import start_oneroster_server

SECRET = "bench-fetch-secret"
PAGE_SIZE = 5000
CONCURRENCY = 4


def table_order() -> list[str]:
    """The tables in the order the refresh starts their oracles (sorted oracle keys)."""
    from snapkit_oneroster.settings import TABLE_KEYS

    return [TABLE_KEYS[key] for key in sorted(TABLE_KEYS)]


def json_decoder() -> Callable[[bytes], Any]:
    """The decoder the OneRoster client uses: orjson when installed, else json."""
    try:
        from orjson import loads
    except ImportError:
        from json import loads
    return loads


def server_cpu(process: subprocess.Popen[str]) -> float | None:
    """CPU seconds the server process has used so far (Linux), or ``None``."""
    try:
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_tables(info: dict[str, Any], pages: int | None) -> tuple[int, int]:
    """Read every table (or its first ``pages`` pages) with bare httpx, 4 tables at a time;
    return (records, calls)."""
    import httpx

    from snapkit_oneroster.schema import TABLES

    loads = json_decoder()
    token = httpx.post(
        info["token_url"],
        data={"grant_type": "client_credentials"},
        auth=(info["client_id"], SECRET),
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def read(table: str) -> tuple[int, int]:
        records = calls = 0
        with httpx.Client(base_url=info["base_url"] + "/", headers=headers, timeout=60) as client:
            offset = 0
            while True:
                response = client.get(
                    table, params={"limit": PAGE_SIZE, "offset": offset, "sort": "sourcedId"}
                )
                response.raise_for_status()
                calls += 1
                page = loads(response.content)[TABLES[table].many]
                records += len(page)
                offset += len(page)
                if (
                    len(page) < PAGE_SIZE
                    or offset >= int(response.headers["X-Total-Count"])
                    or calls == pages
                ):
                    return records, calls

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        counts = list(pool.map(read, table_order()))
    return sum(c[0] for c in counts), sum(c[1] for c in counts)


@dataclass
class Run:
    """One contender's figures: wall and CPU seconds here, the server's CPU seconds."""

    wall: float
    cpu: float
    server_cpu: float | None


def http_only(info: dict[str, Any]) -> tuple[int, int]:
    """Read every table with bare httpx, under the refresh's garbage-collector thresholds."""
    from snapkit.gcpace import FULL_COLLECTION_EVERY

    saved = gc.get_threshold()
    gc.set_threshold(saved[0], saved[1], max(saved[2], FULL_COLLECTION_EVERY))
    try:
        return read_tables(info, pages=None)
    finally:
        gc.set_threshold(*saved)


def timed(process: subprocess.Popen[str], work: Callable[[], Any]) -> tuple[Run, Any]:
    server, cpu, started = server_cpu(process), time.process_time(), time.perf_counter()
    result = work()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    after = server_cpu(process)
    return Run(
        wall, cpu, after - server if after is not None and server is not None else None
    ), result


def refresh(info: dict[str, Any], folder: Path) -> Any:
    """A project refreshing ``[oracles.oneroster]`` from the server, ready to run."""
    import snapkit_oneroster.plugin as plugin
    from snapkit.testing.engine import make_project

    section = {
        "base_url": info["base_url"],
        "client_id": info["client_id"],
        "client_secret": SECRET,
        "page_size": PAGE_SIZE,
    }
    return make_project(
        folder,
        plugin,
        config={"oracles": {"oneroster": section}, "refresh": {"concurrency": CONCURRENCY}},
    )


def describe(http: Run, snap: Run, records: int) -> tuple[float, float]:
    """Print one round; return (share outside HTTP, own CPU microseconds per record)."""
    share = max(0.0, snap.wall - http.wall) / snap.wall
    per_record = (snap.cpu - http.cpu) / records * 1e6

    def server(run: Run) -> str:
        return f"; server {run.server_cpu:.2f} s CPU" if run.server_cpu is not None else ""

    print(
        f"  HTTP only        {http.wall:6.2f} s  ({records / http.wall:,.0f} records/s; "
        f"{http.cpu:.2f} s CPU in this process{server(http)})"
    )
    print(
        f"  snapkit refresh  {snap.wall:6.2f} s  ({records / snap.wall:,.0f} records/s; "
        f"{snap.cpu:.2f} s CPU in this process{server(snap)})"
    )
    print(
        f"  outside HTTP     {share:6.1%}  own CPU {snap.cpu - http.cpu:.2f} s "
        f"({per_record:.1f} us per record)"
    )
    return share, per_record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="alternate the two contenders this many times (default 1)",
    )
    args = parser.parse_args()
    print(f"starting the local OneRoster server ({args.users:,} users) in its own process...")
    process, info = start_oneroster_server(args.users, SECRET)
    rounds: list[tuple[float, float]] = []
    try:
        read_tables(info, pages=1)  # warm the server's query cache for both contenders
        for n in range(args.rounds):
            http, (records, calls) = timed(process, lambda: http_only(info))
            with tempfile.TemporaryDirectory() as tmp:
                project = refresh(info, Path(tmp))
                snap, outcome = timed(process, project.refresh)
            if outcome.status != "success":
                raise SystemExit(f"refresh {outcome.status}: {outcome.errors}")
            stored = sum(p.records for p in outcome.manifest.parts)
            if n == 0:
                from snapkit_oneroster.layout import run_metric

                print(
                    f"records            {stored:,} in {len(outcome.manifest.parts)} tables "
                    f"(HTTP only read {records:,} in {calls} calls; refresh made "
                    f"{run_metric(outcome.manifest, 'api_calls')} calls)"
                )
            print(f"round {n + 1}")
            rounds.append(describe(http, snap, stored))
    finally:
        process.terminate()
        process.wait(10)
    share = statistics.median(r[0] for r in rounds)
    per_record = statistics.median(r[1] for r in rounds)
    verdict = "ok" if share < 0.20 else "MISSED"
    label = "outside HTTP" if len(rounds) == 1 else f"median of {len(rounds)}"
    print(
        f"{label:18s} {share:6.1%}  (target < 20 %: {verdict}); snapkit's own CPU "
        f"{per_record:.1f} us per record beyond HTTP + JSON decoding ({os.cpu_count()} CPUs "
        "shared with the server process)"
    )


if __name__ == "__main__":
    from snapkit import gcpace

    with gcpace.enabled():  # measure what the CLI does: it paces the collector
        main()
