"""Benchmark: ``snapkit serve`` under concurrent readers while a refresh runs.

A OneRoster district of N users (50,000 by default) is refreshed once into a store; then the
server (``create_app`` under uvicorn in ``serve.workers`` processes on one port, as
``snapkit serve`` runs it: its default, 1, unless ``--workers N``) serves it, with
one extra route: ``/bench-static/current.json``, a static JSON file of the same bytes as
``GET /api/current``, served by Starlette's ``StaticFiles`` -- the peer measured in the same
run, by the same server. While the clients read, a refresh of the whole district runs in the
server through ``POST /api/admin/refresh`` (a new one starts as soon as one ends), so every
figure is "during a refresh".

For each of 64 and 256 concurrent clients, for a fixed time each (``--seconds``):

- ``current``: ``GET /api/current``;
- ``records``: ``GET /api/snapshots/current/tables/users/records?offset=..&limit=50``, offsets
  spread over the whole table (every 997th row);
- ``search``: ``GET /api/search?table=users&q=email=..`` (answered by the email index);
- ``static``: ``GET /bench-static/current.json``.

It prints requests/s, p50 and p99 latency (ms) and errors per route, each route's requests/s
over the static file's, and the server's peak RSS. Targets: ``current`` p99 under 10 ms at
64 clients, and at least half the static file's requests/s.

The load generator is ``wrk`` (a C HTTP benchmarking tool; Debian package ``wrk``, a bench
dependency only) when it is on the PATH: one keep-alive connection per client, one thread
(``--wrk-threads``), latency percentiles from its histogram. Without it (or with ``--client
python``) the clients are a minimal HTTP/1.1 keep-alive client on asyncio in their own
process, which spends several times wrk's CPU per request on the same 2 cores as the server.
The table says which ran, and how many server workers. The server is run as ``snapkit
serve`` runs it (:mod:`snapkit.serve.workers`; start-up objects frozen, see
:mod:`snapkit.serve.process`; ``--no-gc-freeze`` to compare); the GC column gives its
garbage collections during each measurement, the RSS column its resident set, both summed
over the workers. The "refresh running" column asks ``GET /api/refresh``, which the worker
running the refreshes answers whichever worker takes the request.

Usage::

    python bench/serve.py                      # 50,000 users, 5 s per measurement
    python bench/serve.py --users 5000 --seconds 3
    python bench/serve.py --client python      # the asyncio clients even when wrk is installed
    python bench/serve.py --routes current --clients 64 --workers 1   # one server process

Needs ``snapkit[serve]``, ``snapkit-oneroster`` and ``snapkit-file-store`` installed.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

TOKEN = "bench-admin-token-" + "0" * 32
ROUTES = ("current", "records", "search", "static")


# -- the server (child process) ------------------------------------------------------------------


def serve_child(config: str, static_dir: str, freeze: bool, workers: int) -> None:
    """Run the app with the static peer route on a free port, as ``snapkit serve`` runs it
    (``workers`` processes, their start-up objects frozen unless ``freeze`` is false); print
    the port."""
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    from snapkit.project import Project
    from snapkit.serve import create_app
    from snapkit.serve import workers as serving

    def build(project: Project) -> Any:
        app = create_app(project)
        app.router.routes.insert(0, Mount("/bench-static", app=StaticFiles(directory=static_dir)))
        app.router.routes.insert(0, Route("/bench-gc", _GcPauses()))
        return app

    project = Project.load(config)
    sock = serving.listening_socket("127.0.0.1", 0, workers)
    print(sock.getsockname()[1], flush=True)
    options = {"access_log": False, "freeze": freeze}
    if workers == 1:
        serving.serve_one(build(project), sock, "warning", **options)
    else:
        sys.exit(serving.serve_many(project, sock, workers, "warning", build, **options))


class _GcPauses:
    """A server process's garbage collections and their pauses, per generation, since the
    last ``GET /bench-gc`` (an ASGI endpoint of the bench's server only, which answers with
    its process id and clears them; each worker has its own)."""

    def __init__(self) -> None:
        import gc

        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pauses = {str(g): p for g, p in self.pauses.items()}
        body = json.dumps({"pid": os.getpid(), "pauses": pauses}).encode()
        self.pauses = {0: [], 1: [], 2: []}
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def _gc_of_workers(base: str, workers: int, tries: int = 60) -> tuple[dict[str, list[float]], int]:
    """Every worker's collections since the last call, merged, and how many workers answered:
    ``GET /bench-gc`` on new connections until each worker has (a worker the kernel never
    hands a connection within ``tries`` is left out)."""
    merged: dict[str, list[float]] = {"0": [], "1": [], "2": []}
    seen: set[int] = set()
    for _ in range(tries):
        answer = _get(base + "/bench-gc")
        if answer["pid"] not in seen:
            seen.add(answer["pid"])
            for generation, pauses in answer["pauses"].items():
                merged[generation] += pauses
        if len(seen) == workers:
            break
    return merged, len(seen)


def _gc_summary(pauses: dict[str, list[float]], answered: int, workers: int) -> str:
    """Collections per generation, e.g. ``12/3/0``, and the longest pause in ms (summed over
    the workers; ``?`` when a worker did not answer)."""
    counts = "/".join(str(len(pauses[g])) for g in ("0", "1", "2"))
    longest = max((t for times in pauses.values() for t in times), default=0.0)
    return f"{counts} {1000 * longest:5.1f}" + ("" if answered == workers else "?")


# -- the in-app cost ------------------------------------------------------------------------------


def in_app_cost(config: Path, requests: int = 20_000) -> dict[str, float]:
    """The app's own time per ``GET /api/current``: the ASGI call, no socket, no HTTP parser
    (in this process, no refresh running): mean and p50/p99 in microseconds."""
    from snapkit.project import Project
    from snapkit.serve import create_app

    app = create_app(Project.load(config))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/api/current",
        "raw_path": b"/api/current",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"bench"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8750),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    async def measure() -> list[float]:
        for _ in range(1000):
            await app(dict(scope), receive, send)
        times = []
        clock = time.perf_counter
        for _ in range(requests):
            start = clock()
            await app(dict(scope), receive, send)
            times.append(clock() - start)
        return times

    times = sorted(asyncio.run(measure()))
    assert set(statuses) == {200}, set(statuses)
    return {
        "mean_us": 1e6 * statistics.fmean(times),
        "p50_us": 1e6 * times[len(times) // 2],
        "p99_us": 1e6 * times[int(0.99 * (len(times) - 1))],
    }


# -- the clients (child process) -------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    match = re.search(rb"content-length: *(\d+)", lowered)
    if match:
        await reader.readexactly(int(match.group(1)))
    elif b"transfer-encoding: chunked" in lowered:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def _client(
    port: int, paths: list[str], until: float, latencies: list[float], errors: list[int], index: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = index
    try:
        while time.perf_counter() < until:
            path = paths[n % len(paths)]
            n += 1
            start = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            status = await _read_response(reader)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors.append(status)
    finally:
        writer.close()


def clients_child(port: int, clients: int, seconds: float, paths_json: str) -> None:
    """Run ``clients`` connections for ``seconds``; print requests/s, p50, p99, errors."""
    paths = json.loads(paths_json)
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> float:
        until = time.perf_counter() + seconds
        started = time.perf_counter()
        await asyncio.gather(
            *(_client(port, paths, until, latencies, errors, i) for i in range(clients))
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    ordered = sorted(latencies)
    print(
        json.dumps(
            {
                "requests": len(ordered),
                "rps": len(ordered) / elapsed,
                "p50_ms": 1000 * statistics.median(ordered) if ordered else None,
                "p99_ms": 1000 * ordered[int(0.99 * (len(ordered) - 1))] if ordered else None,
                "errors": len(errors),
            }
        )
    )


# -- the clients: wrk ------------------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {%(paths)s}
local n = 0
if #paths > 1 then
  request = function()
    n = n + 1
    return wrk.format("GET", paths[(n %% #paths) + 1])
  end
else
  wrk.path = paths[1]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{"requests": %%d, "seconds": %%.6f, "p50_us": %%d, "p99_us": %%d, "errors": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


WRK_THREADS = 1


def run_wrk(
    port: int, clients: int, seconds: float, paths: list[str], threads: int = WRK_THREADS
) -> dict[str, Any]:
    """``clients`` wrk connections for ``seconds`` (whole seconds, at least 1) over ``paths``."""
    script = WRK_SCRIPT % {"paths": ", ".join(json.dumps(p) for p in paths)}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    try:
        done = subprocess.run(
            [
                "wrk",
                "--threads",
                str(min(threads, clients)),
                "--connections",
                str(clients),
                "--duration",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "--script",
                file.name,
                f"http://127.0.0.1:{port}{paths[0]}",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        os.unlink(file.name)
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "requests": raw["requests"],
        "rps": raw["requests"] / raw["seconds"],
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"],
    }


def run_python_clients(port: int, clients: int, seconds: float, paths: list[str]) -> dict[str, Any]:
    """The asyncio clients (:func:`clients_child`) in their own process."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child-clients",
            str(port),
            str(clients),
            str(seconds),
            json.dumps(paths),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the bench -------------------------------------------------------------------------------------


def _get(url: str, **headers: str) -> Any:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


class RefreshKeeper(threading.Thread):
    """Keeps a refresh running in the server: starts one whenever none runs."""

    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.stop = threading.Event()
        self.runs = 0

    def run(self) -> None:
        while not self.stop.is_set():
            request = urllib.request.Request(
                self.base + "/api/admin/refresh",
                method="POST",
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as answer:
                    status_url = json.loads(answer.read())["status_url"]
                self.runs += 1
            except urllib.error.HTTPError as exc:  # 409: one runs already; 429: wait
                exc.close()
                self.stop.wait(1.0)
                continue
            while not self.stop.is_set():
                if _get(self.base + status_url)["state"] != "running":
                    break
                self.stop.wait(0.5)

    def running(self) -> bool:
        return bool(_get(self.base + "/api/refresh")["running"])


def _peak_rss_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _server_pids(pid: int, workers: int) -> list[int]:
    """The server's processes that answer: itself, or its workers (not the refreshes)."""
    if workers == 1:
        return [pid]
    import psutil

    return [child.pid for child in psutil.Process(pid).children(recursive=False)]


def _rss_mb(pids: list[int]) -> tuple[float, float]:
    """The server's resident set now and its peak so far, in MB (summed over its workers)."""
    return (
        sum(_peak_rss_mb(pid, "VmRSS") for pid in pids),
        sum(_peak_rss_mb(pid) for pid in pids),
    )


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="the load generator: wrk if on the PATH (auto), or the asyncio clients",
    )
    parser.add_argument(
        "--routes", nargs="+", choices=ROUTES, default=list(ROUTES), help="the routes measured"
    )
    parser.add_argument("--wrk-threads", type=int, default=WRK_THREADS, metavar="N")
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="serve without freezing the start-up objects (snapkit serve freezes them)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="server processes (default: serve.workers' default, as snapkit serve runs)",
    )
    parser.add_argument(
        "--in-app-only",
        action="store_true",
        help="measure the in-app cost of GET /api/current only (no server, no clients)",
    )
    parser.add_argument(
        "--store-setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [store] setting (TOML value), e.g. chunk_size=0 for whole parts",
    )
    parser.add_argument(
        "--refresh-nice",
        type=int,
        metavar="N",
        help="serve.refresh_nice for the server (default: the setting's default)",
    )
    args = parser.parse_args()
    if args.client == "wrk" and shutil.which("wrk") is None:
        parser.error("wrk is not on the PATH (Debian: apt-get install wrk)")
    use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk") is not None)
    load = functools.partial(run_wrk, threads=args.wrk_threads) if use_wrk else run_python_clients
    client_name = (
        f"wrk ({args.wrk_threads} threads)" if use_wrk else "asyncio clients (python, one process)"
    )
    if "static" not in args.routes:
        args.routes.append("static")
    routes = [r for r in ROUTES if r in args.routes]
    from snapkit.config import ServeSettings

    workers = args.workers or ServeSettings().workers
    workers_text = f"{workers}" + (" (snapkit serve's default)" if not args.workers else "")

    from snapkit.project import Project
    from snapkit_oneroster.demo import OneRosterDemo

    folder = Path(tempfile.mkdtemp(prefix="snapkit-bench-serve-"))
    demo = OneRosterDemo({"size": args.users})
    config = folder / "snapkit.toml"
    store_settings = "".join(
        f"{item.partition('=')[0]} = {item.partition('=')[2]}\n" for item in args.store_setting
    )
    config.write_text(
        demo.start(folder)
        .replace("page_size = 2000", "page_size = 10000")
        .replace('[store]\nkind = "file"\n', '[store]\nkind = "file"\n' + store_settings)
        + f'\n[serve]\ntoken = "{TOKEN}"\nrefresh_per_minute = 600\n'
        + ("" if args.refresh_nice is None else f"refresh_nice = {args.refresh_nice}\n"),
        encoding="utf-8",
    )
    server = None
    try:
        print(f"district of {args.users:,} users: first refresh ...", flush=True)
        project = Project.load(config)
        outcome = project.refresh()
        users = project.current().part("users").records
        email = next(project.records("current", "users"))["email"]
        print(
            f"  snapshot {outcome.snapshot_id[:12]}: {users:,} users, "
            f"{outcome.duration_ms / 1000:.1f} s",
            flush=True,
        )
        cost = in_app_cost(config)
        print(
            f"  in-app GET /api/current (ASGI call, no socket): mean {cost['mean_us']:.1f} us, "
            f"p50 {cost['p50_us']:.1f} us, p99 {cost['p99_us']:.1f} us",
            flush=True,
        )
        if args.in_app_only:
            return
        static = folder / "static"
        static.mkdir()
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child-server",
                str(config),
                str(static),
                "no-freeze" if args.no_gc_freeze else "freeze",
                str(workers),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ},
        )
        assert server.stdout is not None
        port = int(server.stdout.readline())
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                body = urllib.request.urlopen(base + "/api/current", timeout=5).read()
                break
            except OSError:
                time.sleep(0.05)
        (static / "current.json").write_bytes(body)
        paths = {
            "current": ["/api/current"],
            "records": [
                f"/api/snapshots/current/tables/users/records?offset={k}&limit=50"
                for k in range(0, users, 997)
            ],
            "search": [f"/api/search?table=users&q=email%3D{email}"],
            "static": ["/bench-static/current.json"],
        }
        pids = _server_pids(server.pid, workers)
        keeper = RefreshKeeper(base)
        keeper.start()
        while not keeper.running():
            time.sleep(0.1)
        results: dict[tuple[int, str], dict[str, Any]] = {}
        for clients in args.clients:
            for route in routes:
                during = keeper.running()
                _gc_of_workers(base, workers)
                measured = load(port, clients, args.seconds, paths[route])
                pauses, answered = _gc_of_workers(base, workers)
                results[clients, route] = {
                    **measured,
                    "gc": _gc_summary(pauses, answered, workers),
                    "during": during and keeper.running(),
                    "rss": _rss_mb(pids),
                }
        keeper.stop.set()
        rss = _rss_mb(pids)[1]

        nice = "default" if args.refresh_nice is None else args.refresh_nice
        print(
            f"\nload generator: {client_name}; server workers {workers_text}; "
            f"serve.refresh_nice {nice}; start-up objects "
            f"{'not ' if args.no_gc_freeze else ''}frozen; store settings "
            f"{', '.join(args.store_setting) or 'default'}; load average {_loadavg()}"
        )
        print(
            f"{'clients':>7}  {'route':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
            f"{'errors':>6}  {'/static':>7}  {'RSS/peak MB':>11}  {'GC':>14}  refresh running"
        )
        for clients in args.clients:
            static_rps = results[clients, "static"]["rps"]
            for route in routes:
                r = results[clients, route]
                print(
                    f"{clients:>7}  {route:<8} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} "
                    f"{r['p99_ms']:>8.2f} {r['errors']:>6}  {r['rps'] / static_rps:>6.2f}x  "
                    f"{r['rss'][0]:>5.0f}/{r['rss'][1]:<5.0f}  {r['gc']:>14}  "
                    f"{'yes' if r['during'] else 'NO'}"
                )
        print(
            f"\nserver peak RSS {rss:.0f} MB (summed over its workers); refreshes started "
            f"during the run: {keeper.runs}"
        )
        print(
            "GC: the server's collections during the measurement in generations 0/1/2 (all "
            "workers), and the longest pause (ms); '?': a worker's were not collected"
        )
        if "current" in routes:
            first = args.clients[0]
            current = results[first, "current"]
            ratio = current["rps"] / results[first, "static"]["rps"]
            print(
                f"target: current p99 < 10 ms at {first} clients: {current['p99_ms']:.2f} ms "
                f"({'met' if current['p99_ms'] < 10 else 'MISSED'}); current >= 0.5x static "
                f"req/s: {ratio:.2f}x ({'met' if ratio >= 0.5 else 'MISSED'})"
            )
    finally:
        demo.close()  # first: the refresh running now then fails quietly, not mid-response
        if server is not None:
            import psutil

            # the refresh the server started last is its child: ended with it, not orphaned
            for child in psutil.Process(server.pid).children(recursive=True):
                child.terminate()
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child-server":
        serve_child(sys.argv[2], sys.argv[3], sys.argv[4] == "freeze", int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--child-clients":
        clients_child(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    else:
        main()
