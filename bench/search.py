"""Benchmark: searching a 1,000,000-row users table, beside grep and DuckDB, in the same run.

A users table of N rows (OneRoster users, normalized) is committed as a snapshot part in a
file store, with an index on ``email``; the OneRoster plugin's layout view writes the same
rows as ``users.csv``. Each contender then runs in its own subprocess, so its peak RSS is its
own, looking for one email substring that matches a handful of rows:

- **snapkit scan**: ``search_table(..., use_index=False)``, streaming the zstd part;
- **grep -c**: on ``users.csv``;
- **duckdb**: one thread, ``count(*)`` with ``LIKE`` over ``read_csv('users.csv')`` (and, for
  information, the same with two threads);
- **snapkit index**: 300 ``email=`` lookups of rows drawn uniformly from the table, through
  the index (each checks the index's root
  and the bucket it reads, and reads the part up to the row, whose digest it checks); p50
  and p99. The index's size on disk is printed beside the part's;
- for information only (no target): **duckdb json.zst**, one thread, ``read_json`` over the
  part as one zstd JSON Lines file (the stored part file itself when the store keeps the part
  whole; a zstd copy of its bytes when it keeps it as chunks).

Throughput is the part's uncompressed JSON Lines bytes (snapkit, duckdb json.zst) or the CSV's
bytes (grep, DuckDB) over the wall time; CPU time is shown beside it (the machine may be
busy). Timing starts once the contender is ready to query: DuckDB's ``connect()`` and
snapkit's opening of the store (importing and opening the file store plugin) are outside it,
and printed. Targets: streaming at least 150 MB/s and at most 1.0x DuckDB's time (on the
CSV), peak RSS under 50 MB; indexed p99 under 20 ms.

Usage::

    python bench/search.py               # 1,000,000 rows
    python bench/search.py --rows 100000

Needs ``duckdb`` (a bench dependency, never a runtime one), ``snapkit-file-store`` and
``snapkit-oneroster``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

NEEDLE = "2345@district"
LOOKUPS = 300


def _project(folder: Path, rows: int = 0, chunk_size: int | None = None) -> Any:
    from snapkit.testing.engine import OraclePlugin, make_project
    from snapkit_oneroster.normalize import normalize_record

    def load(call: Any) -> Any:
        from _common import users

        return (normalize_record("users", record) for record in users(rows))

    plugin = OraclePlugin().add("users", load, records=True, key_column="sourcedId")
    store = (
        {}
        if chunk_size is None
        else {"store": {"kind": "file", "path": str(folder / "store"), "chunk_size": chunk_size}}
    )
    return make_project(
        folder,
        plugin,
        config={
            "search": {"index": {"users": ["email"]}, "index_dir": "index"},
            "refresh": {"timeout": 3600},
            **store,
        },
    )


def build(folder: Path, rows: int, chunk_size: int | None = None) -> dict[str, Any]:
    """Commit the table (with its index) and write users.csv; return sizes."""
    from snapkit_oneroster.layout import write_layout

    project = _project(folder, rows, chunk_size)
    started = time.perf_counter()
    outcome = project.refresh()
    if outcome.status != "success":
        raise SystemExit(f"refresh {outcome.status}: {outcome.errors}")
    report = write_layout(project.store, outcome.manifest, folder / "view")
    part = outcome.manifest.part("users")
    _zstd_copy(project.store, part.sha256, folder / ZST_COPY)
    index = folder / "index"
    stored = sum(
        f.stat().st_size
        for where in ("parts", "packs")  # whole parts, and chunk lists with their packs
        for f in (folder / "store" / where).rglob("*")
        if f.is_file()
    )
    return {
        "seconds": time.perf_counter() - started,
        "part_bytes": part.bytes,
        "index_bytes": sum(f.stat().st_size for f in index.rglob("*") if f.is_file()),
        "stored_bytes": stored,
        "csv": str(report.folder / "users.csv"),
        "csv_bytes": (report.folder / "users.csv").stat().st_size,
    }


ZST_COPY = "users.jsonl.zst"
"""The part as one zstd file for DuckDB's ``read_json`` (for information): the stored part file
itself when it is one, else its bytes compressed the way the file store compresses."""


def _zstd_copy(store: Any, sha256: str, path: Path) -> None:
    import shutil

    import zstandard

    stored = store.layout.part(sha256)
    with open(stored, "rb") as file:
        if file.read(4) == b"\x28\xb5\x2f\xfd":  # a zstd frame: the part stored whole
            shutil.copyfile(stored, path)
            return
    compressor = zstandard.ZstdCompressor(level=3, write_checksum=True)
    with store.open_part(sha256) as source, open(path, "wb") as target:
        compressor.copy_stream(source, target)


def peak_mb() -> float:
    """This process's peak RSS in MB (VmHWM: unlike ru_maxrss, not inherited across exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(which: str, folder: Path, csv_path: str) -> dict[str, Any]:
    """One contender, in this (child) process."""
    result: dict[str, Any] = {}
    if which == "snapkit":
        from snapkit.search import search_table

        project = _project(folder)
        opening = time.perf_counter()
        project.store  # noqa: B018 - open the store (as DuckDB connects) before timing
        opened = time.perf_counter() - opening
        started, cpu = time.perf_counter(), time.process_time()
        found = search_table(
            project, "current", "users", f"email~{NEEDLE}", limit=None, use_index=False
        )
        matches, scanned = len(found.rows), found.scanned
        result = {
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "matches": matches,
            "rows": scanned,
            "open": opened,
        }
    elif which == "grep":
        started = time.perf_counter()
        # GNU time reports grep's own peak RSS (%M, KB) and CPU seconds on stderr
        done = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "grep", "-c", NEEDLE, csv_path],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - started
        peak, user, system = done.stderr.strip().splitlines()[-1].split()
        return {
            "seconds": seconds,
            "cpu": float(user) + float(system),
            "matches": int(done.stdout.strip() or 0),
            "peak_mb": int(peak) / 1024,
        }
    elif which in ("duckdb", "duckdb-2", "duckdb-json"):
        import duckdb

        opening = time.perf_counter()
        connection = duckdb.connect()
        connection.execute(f"SET threads TO {2 if which == 'duckdb-2' else 1}")
        opened = time.perf_counter() - opening
        if which != "duckdb-json":
            sql = (
                "SELECT count(*) FROM read_csv(?, header=true, all_varchar=true) WHERE email LIKE ?"
            )
            source = csv_path
        else:
            sql = (
                "SELECT count(*) FROM read_json(?, format='newline_delimited', "
                "compression='zstd', columns={'email': 'VARCHAR'}) WHERE email LIKE ?"
            )
            source = str(folder / ZST_COPY)
        started, cpu = time.perf_counter(), time.process_time()
        (count,) = connection.execute(sql, [source, f"%{NEEDLE}%"]).fetchone() or (0,)
        result = {
            "seconds": time.perf_counter() - started,
            "cpu": time.process_time() - cpu,
            "matches": int(count),
            "open": opened,
        }
    elif which == "index":
        from _common import users

        from snapkit.search import search_table

        project = _project(folder)
        rows = project.current().part("users").records
        # rows drawn uniformly from the whole table: a lookup reads the part up to its row
        sample = set(random.Random(1).sample(range(rows), min(LOOKUPS, rows)))
        emails = [user["email"] for i, user in enumerate(users(rows)) if i in sample]
        random.Random(1).shuffle(emails)
        times = []
        for email in emails:
            started = time.perf_counter()
            found = search_table(project, "current", "users", f"email={email}", limit=20)
            times.append((time.perf_counter() - started) * 1000)
            assert found.used_index and found.rows
        times.sort()
        result = {
            "p50_ms": times[len(times) // 2],
            "p99_ms": times[min(len(times) - 1, int(len(times) * 0.99))],
            "lookups": len(times),
        }
    result["peak_mb"] = peak_mb()
    return result


def run_child(which: str, folder: Path, csv_path: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", which, "--folder", str(folder), "--csv", csv_path],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"{which} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--chunk-size",
        type=int,
        help="the file store's chunk_size (0: parts stored whole; default: the store's)",
    )
    parser.add_argument(
        "--reuse", type=Path, metavar="DIR", help="build the data in DIR once, then reuse it"
    )
    parser.add_argument("--child")
    parser.add_argument("--folder", type=Path)
    parser.add_argument("--csv", default="")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.csv)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.reuse or Path(tmp)
        layout = "default" if args.chunk_size is None else f"chunk_size {args.chunk_size}"
        built = folder / "sizes.json"
        if built.exists():
            sizes = json.loads(built.read_text())
            print(f"reusing {folder} ({sizes['rows']:,} users)")
        else:
            print(f"building {args.rows:,} users (part + email index + users.csv; {layout})...")
            folder.mkdir(parents=True, exist_ok=True)
            sizes = dict(build(folder, args.rows, args.chunk_size), rows=args.rows)
            built.write_text(json.dumps(sizes))
        args.rows = sizes["rows"]
        print(
            f"  built in {sizes['seconds']:.1f} s: part {sizes['part_bytes'] / 1e6:.0f} MB "
            f"(JSON Lines; {sizes['stored_bytes'] / 1e6:.0f} MB stored), users.csv "
            f"{sizes['csv_bytes'] / 1e6:.0f} MB; email index {sizes['index_bytes'] / 1e6:.1f} "
            f"MB on disk"
        )
        names = ("snapkit", "grep", "duckdb", "duckdb-2", "index", "duckdb-json")
        results = {name: run_child(name, folder, sizes["csv"]) for name in names}
    snap, grep, duck, duck2, index, json_zst = (results[name] for name in names)
    print(
        f"\nquery: email~{NEEDLE} ({snap['matches']} matches; grep {grep['matches']}, "
        f"duckdb {duck['matches']}, duckdb json.zst {json_zst['matches']})"
    )
    print(f"{'':20}{'seconds':>9}{'CPU s':>8}{'MB/s':>9}{'rows/s':>13}{'peak RSS':>11}")
    for name, result, size in (
        ("snapkit scan", snap, sizes["part_bytes"]),
        ("grep -c", grep, sizes["csv_bytes"]),
        ("duckdb 1 thread", duck, sizes["csv_bytes"]),
        ("(duckdb 2 threads)", duck2, sizes["csv_bytes"]),
        ("(duckdb json.zst)", json_zst, sizes["part_bytes"]),
    ):
        seconds = result["seconds"]
        print(
            f"{name:20}{seconds:9.2f}{result['cpu']:8.2f}{size / seconds / 1e6:9.0f}"
            f"{args.rows / seconds:13,.0f}{result['peak_mb']:8.0f} MB"
        )
    print(
        f"snapkit index       p50 {index['p50_ms']:.2f} ms, p99 {index['p99_ms']:.2f} ms over "
        f"{index['lookups']} email= lookups (peak RSS {index['peak_mb']:.0f} MB)"
    )
    print(
        f"(untimed: opening the store {snap['open']:.3f} s, DuckDB connect "
        f"{duck['open']:.3f} s; in parentheses, for information: DuckDB with 2 threads, and "
        f"DuckDB reading the part itself as one zstd JSON Lines file)"
    )
    rate = sizes["part_bytes"] / snap["seconds"] / 1e6
    ratio = snap["seconds"] / duck["seconds"]
    print(
        f"\ntargets: scan >= 150 MB/s: {rate:.0f} ({'ok' if rate >= 150 else 'MISSED'}); "
        f"<= 1.0x DuckDB: {ratio:.2f}x ({'ok' if ratio <= 1.0 else 'MISSED'}); "
        f"peak RSS < 50 MB: {snap['peak_mb']:.0f} ({'ok' if snap['peak_mb'] < 50 else 'MISSED'})"
        f"; index p99 < 20 ms: {index['p99_ms']:.1f} "
        f"({'ok' if index['p99_ms'] < 20 else 'MISSED'})"
    )


if __name__ == "__main__":
    from snapkit import gcpace

    with gcpace.enabled():  # measure what the CLI does: it paces the collector
        main()
