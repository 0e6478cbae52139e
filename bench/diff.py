"""Benchmark: snapkit's keyed table diff beside DuckDB and deepdiff, measured in the same run.

Two tables of N rows are written as snapkit parts in a file store (zstd-compressed canonical
JSON Lines; kept as shared chunks when the store chunks parts), and the same rows as plain
JSONL files, in two kinds of change:

- **random**: 1% of rows changed, 0.5% removed, 0.5% added, anywhere in the table;
- **range**: a day's real change, confined to 1% of the key range: in one slice of 1% of the
  keys, 10% of the rows changed, 5% removed and 5% added (0.2% of the table in all). DuckDB
  still reads both tables whole; snapkit reads only the chunks that differ.

Each contender then runs in its own subprocess, so its peak RSS is its own:

- **snapkit**: ``compute_diff`` with the ``table`` section, from the store's parts to the
  decoded changes (keys added and removed, changed rows with their changed fields);
- **duckdb**: one thread, a full outer join of the two JSONL files on the key that keeps the
  rows whose columns differ, fetched into Python;
- **deepdiff**: both JSONL files loaded into ``{id: row}`` dicts and compared with
  ``DeepDiff`` (only at 100,000 rows or fewer: it is far slower).

Usage::

    python bench/diff.py                       # 100,000 and 1,000,000 rows, both kinds
    python bench/diff.py --rows 200000 --churn range

Needs the bench extras (never runtime dependencies of snapkit): ``duckdb``, ``deepdiff``,
``psutil``, and the ``snapkit-file-store`` and ``snapkit-diff-sections`` plugins installed.
Targets (bench/README.md; figures are ratios): at 1,000,000 rows, random churn at most 1.0x DuckDB's
time, range churn at least 10x faster than DuckDB, and under 300 MB peak RSS; at 100,000 rows
at least 50x faster than deepdiff.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEEPDIFF_MAX_ROWS = 100_000
COLUMNS = {
    "id": "BIGINT",
    "name": "VARCHAR",
    "email": "VARCHAR",
    "score": "DOUBLE",
    "visits": "BIGINT",
    "active": "BOOLEAN",
    "group": "VARCHAR",
}


# -- data ----------------------------------------------------------------------------------------


def _row(i: int, rng: random.Random) -> dict[str, Any]:
    return {
        "id": i,
        "name": f"user {i}",
        "email": f"user{i}@example.org",
        "score": round(rng.random() * 100, 3),
        "visits": rng.randrange(1000),
        "active": rng.random() < 0.8,
        "group": f"g{i % 50}",
    }


def tables(
    rows: int, churn: str = "random", seed: int = 4
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return tables ``a`` and ``b`` for a kind of churn (see the module docstring)."""
    rng = random.Random(seed)
    a = [_row(i, rng) for i in range(rows)]
    if churn == "random":
        picks = rng.sample(range(rows), rows // 100 + rows // 200)
        changed, removed = set(picks[: rows // 100]), set(picks[rows // 100 :])
        inserted: dict[int, list[dict[str, Any]]] = {}
        added = [_row(rows + i, rng) for i in range(rows // 200)]
    else:
        width = max(rows // 100, 20)
        start = rng.randrange(rows - width + 1)
        picks = rng.sample(range(start, start + width), width // 10 + width // 20)
        changed, removed = set(picks[: width // 10]), set(picks[width // 10 :])
        # new keys land inside the slice, in table order (a day's new users, say)
        inserted = {
            at: [_row(rows + n, rng)]
            for n, at in enumerate(rng.sample(range(start, start + width), width // 20))
        }
        added = []
    b = []
    for row in a:
        b.extend(inserted.get(row["id"], ()))
        if row["id"] in removed:
            continue
        if row["id"] in changed:
            row = dict(row, score=row["score"] + 1.5)
            if row["id"] % 3 == 0:
                row["name"] = row["name"].upper()
        b.append(row)
    b.extend(added)
    return a, b


def prepare(rows: int, folder: Path, churn: str, chunk_size: int | None) -> dict[str, Any]:
    """Write both tables as snapkit parts in a file store and as JSONL files."""
    from snapkit.canonical import canonical_bytes
    from snapkit.contracts import PartRef, Scope, SnapshotManifest
    from snapkit.parts import write_records
    from snapkit_file_store.store import FileStore

    settings: dict[str, Any] = {"path": str(folder / "store"), "compression_level": 1}
    if chunk_size is not None:
        settings["chunk_size"] = chunk_size
    store = FileStore.from_settings(settings)
    ids = []
    for name, table in zip(("a", "b"), tables(rows, churn), strict=True):
        with open(folder / f"{name}.jsonl", "wb") as file:
            for start in range(0, len(table), 10_000):
                file.write(
                    b"".join(canonical_bytes(r) + b"\n" for r in table[start : start + 10_000])
                )
        pointer = store.read_pointer()
        txn = store.begin()
        sha, size, count = write_records(txn.part_writer(), table)
        part = PartRef("users", sha, count, size, "users", "id")
        manifest = SnapshotManifest(
            Scope("bench"), "1", "1", "success", parts=(part,), payloads={"table": name}
        )
        txn.commit(
            manifest, move_pointer=True, expected_generation=pointer.generation if pointer else 0
        )
        ids.append(manifest.id)
        del table
    return {
        "store": str(folder / "store"),
        "a": ids[0],
        "b": ids[1],
        "jsonl_a": str(folder / "a.jsonl"),
        "jsonl_b": str(folder / "b.jsonl"),
    }


# -- contenders (each runs in its own process) ---------------------------------------------------


def run_snapkit(job: dict[str, Any]) -> dict[str, Any]:
    from snapkit import gcpace
    from snapkit.diff import compute_diff
    from snapkit.manager import PluginManager, PluginSelection
    from snapkit_diff_sections import plugin
    from snapkit_file_store.store import FileStore

    manager = PluginManager(PluginSelection(autoload=False))
    manager.register(plugin, name="diff-sections")
    store = FileStore.from_settings({"path": job["store"]})
    a, b = store.get(job["a"]), store.get(job["b"])
    started, cpu = time.perf_counter(), time.process_time()
    with gcpace.enabled():  # as the command line runs it
        diff = compute_diff(manager, store, a, b, sections=["table"])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    (section,) = diff.sections
    return {
        "seconds": seconds,
        "cpu": cpu,
        "added": section.added,
        "removed": section.removed,
        "changed": section.changed,
    }


def run_duckdb(job: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items()) + "}"
    started, cpu = time.perf_counter(), time.process_time()
    con = duckdb.connect()
    con.execute("SET threads = 1")
    fields = [c for c in COLUMNS if c != "id"]
    differs = " OR ".join(f'a."{c}" IS DISTINCT FROM b."{c}"' for c in fields)
    select = ", ".join(f'a."{c}" AS "a_{c}", b."{c}" AS "b_{c}"' for c in fields)
    rows = con.execute(f"""
        SELECT coalesce(a.id, b.id) AS id,
               CASE WHEN a.id IS NULL THEN 'added' WHEN b.id IS NULL THEN 'removed'
                    ELSE 'changed' END AS kind, {select}
        FROM read_json('{job["jsonl_a"]}', format = 'newline_delimited',
                       columns = {columns}) AS a
        FULL OUTER JOIN read_json('{job["jsonl_b"]}', format = 'newline_delimited',
                                  columns = {columns}) AS b
        ON a.id = b.id
        WHERE a.id IS NULL OR b.id IS NULL OR {differs}
        ORDER BY id
    """).fetchall()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    kinds = [row[1] for row in rows]
    return {
        "seconds": seconds,
        "cpu": cpu,
        "added": kinds.count("added"),
        "removed": kinds.count("removed"),
        "changed": kinds.count("changed"),
    }


def run_deepdiff(job: dict[str, Any]) -> dict[str, Any]:
    from deepdiff import DeepDiff

    started, cpu = time.perf_counter(), time.process_time()
    tables = []
    for name in ("jsonl_a", "jsonl_b"):
        with open(job[name], "rb") as file:
            tables.append({row["id"]: row for row in map(json.loads, file)})
    result = DeepDiff(tables[0], tables[1])
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    changed_rows = {path.split("]")[0] for path in result.get("values_changed", {})}
    return {
        "seconds": seconds,
        "cpu": cpu,
        "added": len(result.get("dictionary_item_added", ())),
        "removed": len(result.get("dictionary_item_removed", ())),
        "changed": len(changed_rows),
    }


CONTENDERS = {"snapkit": run_snapkit, "duckdb": run_duckdb, "deepdiff": run_deepdiff}


def peak_rss_mb() -> float:
    """This process's peak RSS in MB.

    ``VmHWM`` is reset by ``exec`` while ``ru_maxrss`` keeps the high-water mark of the
    process that forked us, so ``VmHWM`` is read where the system has it.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(name: str, job_file: str) -> None:
    """Run one contender (or ``prepare``) and print its figures as JSON."""
    import psutil

    job = json.loads(Path(job_file).read_text())
    if name == "prepare":
        print(
            json.dumps(prepare(job["rows"], Path(job["folder"]), job["churn"], job["chunk_size"]))
        )
        return
    baseline = psutil.Process().memory_info().rss
    figures = CONTENDERS[name](job)
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["baseline_rss_mb"] = baseline / 2**20
    print(json.dumps(figures))


# -- the run -----------------------------------------------------------------------------------


def measure(name: str, job_file: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", name, str(job_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


CHURN = {
    "random": "1% changed, 0.5% removed, 0.5% added, anywhere",
    "range": "in 1% of the key range: 10% of it changed, 5% removed, 5% added",
}


def bench(rows: int, churn: str, chunk_size: int | None) -> None:
    with tempfile.TemporaryDirectory(prefix="snapkit-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        job_file = folder / "job.json"
        job_file.write_text(
            json.dumps(
                {"rows": rows, "folder": str(folder), "churn": churn, "chunk_size": chunk_size}
            )
        )
        job = measure("prepare", job_file)  # in its own process: this one stays small
        job_file.write_text(json.dumps(job))
        print(
            f"\n{rows:,} rows per table, {churn} churn ({CHURN[churn]}); store "
            f"{'default' if chunk_size is None else f'chunk_size {chunk_size}'}; "
            f"data prepared in {time.perf_counter() - started:.1f} s"
        )
        names = ["snapkit", "duckdb"] + (["deepdiff"] if rows <= DEEPDIFF_MAX_ROWS else [])
        results = {name: measure(name, job_file) for name in names}
    print(f"  {'contender':<22}{'wall s':>9}{'CPU s':>8}{'peak RSS MB':>13}  added/removed/changed")
    for name, r in results.items():
        label = {
            "snapkit": "snapkit table diff",
            "duckdb": "duckdb (1 thread)",
            "deepdiff": "deepdiff",
        }[name]
        print(
            f"  {label:<22}{r['seconds']:>9.3f}{r['cpu']:>8.2f}{r['peak_rss_mb']:>13.0f}"
            f"  {r['added']}/{r['removed']}/{r['changed']}"
        )
    counts = {(r["added"], r["removed"], r["changed"]) for r in results.values()}
    agree = "all contenders agree" if len(counts) == 1 else "COUNTS DISAGREE"
    snap = results["snapkit"]
    ratio = snap["seconds"] / results["duckdb"]["seconds"]
    if churn == "random":
        verdict = f"snapkit / duckdb time: {ratio:.2f}x (target <= 1.0x)"
    else:
        verdict = f"duckdb / snapkit time: {1 / ratio:.1f}x faster (target >= 10x)"
    print(
        f"  {verdict}; snapkit peak RSS {snap['peak_rss_mb']:.0f} MB (target < 300 MB at "
        f"1,000,000 rows); {agree}"
    )
    if "deepdiff" in results:
        speedup = results["deepdiff"]["seconds"] / snap["seconds"]
        print(f"  deepdiff / snapkit time: {speedup:.0f}x (target >= 50x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows",
        type=int,
        action="append",
        help="rows per table; repeatable (default: 100000 and 1000000)",
    )
    parser.add_argument(
        "--churn",
        choices=sorted(CHURN),
        action="append",
        help="kind of change; repeatable (default: both)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        help="the file store's chunk_size (0: parts stored whole; default: the store's)",
    )
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "JOB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("PYTHONHASHSEED", "0")
    for rows in args.rows or [100_000, 1_000_000]:
        for churn in args.churn or ["random", "range"]:
            bench(rows, churn, args.chunk_size)


if __name__ == "__main__":
    main()
