"""Reads and commits on a store holding many snapshots, and bulk part writes.

On a file store holding N snapshots (10,000 by default) prints:

- the current-snapshot read through the Python API (warm), p50 and p99, beside a naive
  baseline measured in the same run (read the pointer file and the manifest JSON and parse
  them on every call);
- a commit (manifest written, pointer swapped, each with fsync), p50 and p99, beside the raw
  cost of one write+fsync+rename of a small file;
- bulk part writes (canonical JSON Lines through the store's part writer, zstd, SHA-256,
  fsync) in MB/s, beside a raw write+fsync of the same bytes.

    python bench/reads.py                 # 10,000 snapshots
    python bench/reads.py --snapshots 2000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import table, users


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--snapshots", type=int, default=10_000)
    parser.add_argument("--part-mb", type=int, default=200)
    args = parser.parse_args()

    from snapkit.contracts import Scope, SnapshotManifest
    from snapkit.parts import encode_record
    from snapkit_file_store.store import FileStore

    folder = Path(tempfile.mkdtemp(prefix="snapkit-reads-"))
    store = FileStore(folder / "store")
    commits: list[float] = []
    pointer = store.read_pointer()
    generation = pointer.generation if pointer else 0
    print(f"committing {args.snapshots:,} snapshots...", file=sys.stderr)
    for i in range(args.snapshots):
        manifest = SnapshotManifest(
            scope=Scope("bench"),
            schema_version="1",
            calculation_version="1",
            status="success",
            payloads={"counter": {"n": i}},
        )
        txn = store.begin()
        started = time.perf_counter()
        result = txn.commit(manifest, move_pointer=True, expected_generation=generation)
        commits.append(time.perf_counter() - started)
        assert result.pointer is not None
        generation = result.pointer.generation

    # raw small-file write + fsync + rename, the floor under any durable commit
    raw_commits = []
    for i in range(500):
        target = folder / "raw-pointer.json"
        started = time.perf_counter()
        tmp = folder / "raw-pointer.tmp"
        with tmp.open("wb") as out:
            out.write(json.dumps({"n": i}).encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        fd = os.open(folder, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        raw_commits.append(time.perf_counter() - started)

    # warm current-snapshot reads
    reader = FileStore(folder / "store")
    reader.latest_successful()
    reads = []
    for _ in range(20_000):
        started = time.perf_counter()
        current = reader.latest_successful()
        reads.append(time.perf_counter() - started)
    assert current is not None and current.payloads["counter"]["n"] == args.snapshots - 1
    pointer_file = next(p for p in (folder / "store").rglob("*") if p.name.startswith("current"))
    naive = []
    manifests = {p.stem: p for p in (folder / "store").rglob(f"{current.id}*.json")}
    manifest_path = next(iter(manifests.values()))
    for _ in range(5_000):
        started = time.perf_counter()
        json.loads(pointer_file.read_bytes())
        json.loads(manifest_path.read_bytes())
        naive.append(time.perf_counter() - started)

    # bulk part writes
    line_source = [encode_record(r) for r in users(20_000)]
    chunk = b"".join(line_source)
    repeats = max(1, args.part_mb * 1_000_000 // len(chunk))
    txn = store.begin()
    writer = txn.part_writer()
    started = time.perf_counter()
    for _ in range(repeats):
        writer.write(chunk)
    sha, size = writer.close()
    txn.abort()
    part_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with (folder / "raw-part.bin").open("wb") as out:
        for _ in range(repeats):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    raw_seconds = time.perf_counter() - started

    ms = 1000
    print(f"file store with {args.snapshots:,} snapshots ({sys.version.split()[0]})")
    table(
        ("measure", "snapkit", "baseline", "ratio", "target"),
        [
            (
                "current read p50 (ms)",
                f"{statistics.median(reads) * ms:.4f}",
                f"{statistics.median(naive) * ms:.4f}",
                f"{statistics.median(naive) / statistics.median(reads):.0f}x faster",
                "",
            ),
            (
                "current read p99 (ms)",
                f"{percentile(reads, 0.99) * ms:.4f}",
                f"{percentile(naive, 0.99) * ms:.4f}",
                "",
                "< 0.1 ms",
            ),
            (
                "commit p50 (ms)",
                f"{statistics.median(commits) * ms:.2f}",
                f"{statistics.median(raw_commits) * ms:.2f}",
                f"{statistics.median(commits) / statistics.median(raw_commits):.1f}x raw",
                "",
            ),
            (
                "commit p99 (ms)",
                f"{percentile(commits, 0.99) * ms:.2f}",
                f"{percentile(raw_commits, 0.99) * ms:.2f}",
                "",
                "< 5 ms",
            ),
            (
                "bulk part write (MB/s)",
                f"{size / 1e6 / part_seconds:.0f}",
                f"{size / 1e6 / raw_seconds:.0f}",
                f"{raw_seconds / part_seconds:.0%} of raw",
                ">= 70% of raw",
            ),
        ],
    )
    print(
        f"(part of {size / 1e6:.0f} MB, sha256 {sha[:12]}; baselines: naive read = parse "
        "pointer + manifest JSON per call; raw commit = small write+fsync+rename+dir fsync)"
    )


if __name__ == "__main__":
    main()
