"""Benchmark: bytes on disk for 30 daily snapshots of a district, beside one snapshot's.

The local OneRoster server runs in its own process (``python -m snapkit_oneroster.cli
serve``) over the reference district (seed 7, 50,000 users by default). Each day:

- **refresh**: ``Project.refresh()`` with ``[oracles.oneroster]`` into a file store with
  chunked parts (``chunk_size = 768``, the measured choice: content-defined chunks, packs,
  chunk lists; see ``docs/snapshots.md``);
- **whole parts**: the snapshot just committed is written again, part by part through a
  transaction, into a second file store with ``chunk_size = 0`` (every part one seekable zstd
  file, as stores were written before chunking), and made current there;
- the server advances one day (``POST /__admin/advance``: users, enrollments, results and
  line items change as a real district's do).

After each day both stores' bytes on disk (allocated blocks of every file: parts, packs,
manifests, history, index) are printed. Target: the chunked store with all the days takes
less than 3x one snapshot (the chunked store after day 1; the ratio to the whole-parts store
after day 1 is printed too). ``--sizes`` writes further copies with other chunk sizes (from
the same snapshots) to compare.

Usage::

    python bench/storage.py                     # 30 days, 50,000 users
    python bench/storage.py --days 5 --users 10000 --sizes 512,2048

Needs ``snapkit-oneroster`` and ``snapkit-file-store`` installed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import start_oneroster_server

SECRET = "bench-storage-secret"
TARGET = 3.0


def advance(info: dict[str, Any]) -> None:
    """Advance the served district one day."""
    base = info["base_url"].split("/ims/")[0]
    request = urllib.request.Request(
        f"{base}/__admin/advance",
        data=b'{"days": 1}',
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        answer.read()


def project(info: dict[str, Any], folder: Path) -> Any:
    """A project refreshing ``[oracles.oneroster]`` from the server into ``folder/store``."""
    import snapkit_oneroster.plugin as plugin
    from snapkit.chunking import CHUNK_TARGET
    from snapkit.testing.engine import make_project

    section = {
        "base_url": info["base_url"],
        "client_id": info["client_id"],
        "client_secret": SECRET,
        "page_size": 5000,
        "deadline": 1800,  # a shared machine may take minutes; this bench measures bytes
    }
    return make_project(
        folder,
        plugin,
        config={
            "oracles": {"oneroster": section},
            "store": {"kind": "file", "path": str(folder / "store"), "chunk_size": CHUNK_TARGET},
            "refresh": {"concurrency": 4, "timeout": 1800, "deadline": 3600},
        },
    )


def disk_bytes(root: Path) -> int:
    """Allocated bytes of every file under ``root`` (what ``du`` counts)."""
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total


def copy_current(source: Any, target: Any) -> float:
    """Write the source's current snapshot into ``target`` through a transaction and make it
    current there; return the seconds it took."""
    manifest = source.latest_successful()
    started = time.perf_counter()
    txn = target.begin()
    for ref in manifest.parts:
        writer = txn.part_writer()
        for block in source.iter_part_blocks(ref.sha256):
            writer.write(block)
        sha256, _size = writer.close()
        assert sha256 == ref.sha256, "a copy must hash to the part's name"
    txn.commit(manifest, move_pointer=True, expected_generation=None)
    return time.perf_counter() - started


def mb(value: float) -> str:
    return f"{value / 1e6:8.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument(
        "--sizes", default="", help="comma-separated chunk sizes to write copies with as well"
    )
    parser.add_argument(
        "--full", action="store_true", help="accepted for `nox -s bench -- --full` (the default)"
    )
    args = parser.parse_args()
    from snapkit_file_store import FileStore

    sizes = [int(size) for size in args.sizes.split(",") if size]
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(f"starting the local OneRoster server ({args.users:,} users, seed 7)...")
    process, info = start_oneroster_server(args.users, SECRET)
    with tempfile.TemporaryDirectory(prefix="snapkit-bench-storage-") as tmp:
        folder = Path(tmp)
        refreshing = project(info, folder)
        chunked_root = folder / "store"
        whole_root = folder / "whole"
        whole = FileStore(whole_root, chunk_size=0)
        others = {size: FileStore(folder / f"chunks-{size}", chunk_size=size) for size in sizes}
        first: dict[str, int] = {}
        try:
            print(
                f"{'day':>3}  {'refresh':>8}  {'chunked':>11}  {'whole parts':>11}  "
                f"{'whole copy':>10}" + "".join(f"  {f'chunks {size}':>11}" for size in sizes)
            )
            for day in range(1, args.days + 1):
                started = time.perf_counter()
                outcome = refreshing.refresh()
                refresh_seconds = time.perf_counter() - started
                if outcome.status != "success":
                    raise SystemExit(f"day {day}: the refresh did not succeed ({outcome.status})")
                store = FileStore(chunked_root)
                whole_seconds = copy_current(store, whole)
                for other in others.values():
                    copy_current(store, other)
                figures = {
                    "chunked": disk_bytes(chunked_root),
                    "whole": disk_bytes(whole_root),
                    **{f"c{size}": disk_bytes(folder / f"chunks-{size}") for size in sizes},
                }
                if day == 1:
                    first = dict(figures)
                print(
                    f"{day:>3}  {refresh_seconds:7.1f}s  {mb(figures['chunked'])}  "
                    f"{mb(figures['whole'])}  {whole_seconds:9.1f}s"
                    + "".join(f"  {mb(figures[f'c{size}'])}" for size in sizes),
                    flush=True,
                )
                if day < args.days:
                    advance(info)
        finally:
            process.terminate()
            process.wait()
        print()
        days = args.days
        ratio = figures["chunked"] / first["chunked"]
        print(
            f"chunked parts: {days} days take {mb(figures['chunked']).strip()}, "
            f"{ratio:.2f}x one snapshot ({mb(first['chunked']).strip()}); "
            f"{figures['chunked'] / first['whole']:.2f}x one snapshot in whole parts"
        )
        print(
            f"whole parts (the format before chunking): {days} days take "
            f"{mb(figures['whole']).strip()}, {figures['whole'] / first['whole']:.2f}x one "
            f"snapshot ({mb(first['whole']).strip()})"
        )
        for size in sizes:
            key = f"c{size}"
            print(
                f"chunk size {size}: {days} days take {mb(figures[key]).strip()}, "
                f"{figures[key] / first[key]:.2f}x one snapshot ({mb(first[key]).strip()})"
            )
        verdict = "met" if ratio < TARGET else "NOT met"
        print(f"target: {days} days under {TARGET:g}x one snapshot: {verdict}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
