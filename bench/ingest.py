"""Ingest: N OneRoster-like user records refreshed into the file store.

Prints records/s, MB/s and peak RSS for snapkit (and how long its schema validation takes),
beside a raw baseline measured in the same run (serialize each record to JSON,
write it to a file, fsync) and dlt writing the same records to its filesystem destination as
JSONL. Every contender runs in its own process so peak RSS is its own.

    python bench/ingest.py            # 100,000 records
    python bench/ingest.py --full     # 100,000 and 1,000,000 records

``snapkit`` writes with the file store's defaults (large parts as chunks, ``chunk_size = 768``,
see docs/snapshots.md); ``snapkit-whole`` the same records with ``chunk_size = 0`` (every part
whole, as before chunking), for chunking's cost.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import USER_SCHEMA, report, run_child, table, users


def child_snapkit(n: int, folder: str, validate: bool, *, chunk_size: int | None = None) -> None:
    from snapkit.testing.engine import OraclePlugin, make_project

    plugin = OraclePlugin().add(
        "users",
        lambda call: users(n),
        records=True,
        key_column="sourcedId",
        payload_schema=USER_SCHEMA if validate else None,
    )
    config = None
    if chunk_size is not None:  # 0: whole parts (the default: large parts as chunks)
        store = {"kind": "file", "path": str(Path(folder) / "store"), "chunk_size": chunk_size}
        config = {"store": store}
    project = make_project(Path(folder), plugin, config=config)
    start = time.perf_counter()
    outcome = project.refresh()
    elapsed = time.perf_counter() - start
    assert outcome.status == "success", outcome.errors
    part = outcome.manifest.part("users")
    validation = 0.0
    if validate:
        from snapkit.payloads import make_check

        check = make_check(USER_SCHEMA, "bench record")
        assert check is not None
        batch: list[dict[str, object]] = []
        for record in users(n):
            batch.append(record)
            if len(batch) == 10_000:
                started = time.perf_counter()
                for item in batch:
                    check(item)
                validation += time.perf_counter() - started
                batch.clear()
        started = time.perf_counter()
        for item in batch:
            check(item)
        validation += time.perf_counter() - started
    report(
        {
            "seconds": elapsed,
            "records": part.records,
            "bytes": part.bytes,
            "validation_seconds": validation,
        }
    )


def child_raw(n: int, folder: str) -> None:
    dumps = json.dumps
    start = time.perf_counter()
    size = 0
    with open(os.path.join(folder, "users.jsonl"), "wb") as out:
        for record in users(n):
            line = (dumps(record) + "\n").encode()
            size += len(line)
            out.write(line)
        out.flush()
        os.fsync(out.fileno())
    report({"seconds": time.perf_counter() - start, "records": n, "bytes": size})


def child_dlt(n: int, folder: str) -> None:
    os.environ["RUNTIME__LOG_LEVEL"] = "WARNING"
    os.environ["DLT_DATA_DIR"] = os.path.join(folder, "dlt-data")
    os.environ["DESTINATION__FILESYSTEM__BUCKET_URL"] = "file://" + os.path.join(folder, "out")
    os.environ["NORMALIZE__LOADER_FILE_FORMAT"] = "jsonl"
    os.environ["DATA_WRITER__DISABLE_COMPRESSION"] = "true"
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="bench",
        destination="filesystem",
        dataset_name="bench",
        pipelines_dir=os.path.join(folder, "pipes"),
    )
    start = time.perf_counter()
    pipeline.run(users(n), table_name="users", loader_file_format="jsonl")
    report({"seconds": time.perf_counter() - start, "records": n, "bytes": 0})


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        kind, n, folder = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        if kind == "snapkit":
            child_snapkit(n, folder, True)
        elif kind == "snapkit-whole":
            child_snapkit(n, folder, True, chunk_size=0)
        elif kind == "raw":
            child_raw(n, folder)
        else:
            child_dlt(n, folder)
        return
    sizes = [100_000, 1_000_000] if "--full" in sys.argv else [100_000]
    skip_dlt = "--no-dlt" in sys.argv
    rows = []
    rss: dict[str, dict[int, float]] = {}
    for n in sizes:
        results = {}
        for kind in ("raw", "snapkit", "snapkit-whole", *(() if skip_dlt else ("dlt",))):
            folder = tempfile.mkdtemp(prefix="snapkit-bench-")
            try:
                results[kind] = run_child(__file__, ["child", kind, str(n), folder])
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            rss.setdefault(kind, {})[n] = results[kind]["peak_rss_mb"]
        base = results["raw"]["seconds"]
        mb = results["snapkit"]["bytes"] / 1e6
        for kind, result in results.items():
            seconds = result["seconds"]
            rows.append(
                (
                    f"{kind} @ {n:,}",
                    f"{seconds:.2f}",
                    f"{n / seconds:,.0f}",
                    f"{mb / seconds:.1f}",
                    f"{seconds / base:.2f}x",
                    f"{result['peak_rss_mb']:.0f}",
                )
            )
        validation = results["snapkit"]["validation_seconds"]
        rows.append(
            (
                f"  of which validation @ {n:,}",
                f"{validation:.2f}",
                "",
                "",
                f"{validation / results['snapkit']['seconds']:.0%} of snapkit",
                "",
            )
        )
    print(f"ingest of OneRoster-like users into the file store (Python {sys.version.split()[0]})")
    table(("contender", "seconds", "records/s", "MB/s", "vs raw", "peak RSS MB"), rows)
    if len(sizes) > 1:
        growth = rss["snapkit"][sizes[-1]] / rss["snapkit"][sizes[0]] - 1
        print(f"snapkit peak RSS growth {sizes[0]:,} -> {sizes[-1]:,} records: {growth:+.0%}")
    print(
        "targets: snapkit within 2x of raw; at least 3x faster than dlt; peak RSS under "
        "200 MB and growing under 20% from 100k to 1M"
    )


if __name__ == "__main__":
    from snapkit import gcpace

    with gcpace.enabled():  # measure what the CLI does: it paces the collector
        main()
