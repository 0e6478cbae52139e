"""Benchmark: bytes stored, commit and read times of the S3 store, chunked parts vs whole.

A moto S3 server runs on loopback (``moto[server]``, as the plugin's tests use). One table of
``--rows`` rows (about 120 bytes of canonical JSON each: ids, names, emails, schools) is
committed on ``--days`` days into two stores in one bucket: ``chunk_size = 768`` (the default)
and ``chunk_size = 0`` (whole parts, as before chunking). Each day after the first changes
``--changes`` rows, scattered. After each day the script prints, for each store: the bytes
of every object under its prefix (parts, packs, manifests, history), the commit's time (the
part streamed in 1 MiB writes, then ``commit``), a full checked read of the part through
``open_part`` and, for the chunked store, ``part_chunks`` on a fresh handle. At the end:
``verify`` of each store.

Usage::

    python plugins/object-store/bench/chunks.py                # 3 days of 200,000 rows
    python plugins/object-store/bench/chunks.py --days 5 --rows 50000 --changes 50

Quote the figures with the machine's load (``uptime``): a shared machine skews the times.
"""

from __future__ import annotations

import argparse
import os
import random
import time
import uuid
from typing import Any

from snapkit.canonical import canonical_bytes
from snapkit.contracts import PartRef
from snapkit.testing.store_kit import manifest
from snapkit_object_store.store import ObjectStore
from snapkit_object_store.testing import MotoServer, open_store

WRITE = 1 << 20


def _row(i: int, day: int) -> dict[str, Any]:
    return {
        "sourcedId": f"user-{i:07d}",
        "givenName": f"Given{i % 997}",
        "familyName": f"Family{i % 1733}",
        "email": f"user{i}@district9.example.org",
        "school": f"school-{i % 41:03d}",
        "grade": f"{i % 12 + 1:02d}",
        "status": "active" if day == 0 else f"changed on day {day}",
    }


def _table(rows: int, changed: dict[int, int]) -> bytes:
    return b"".join(canonical_bytes(_row(i, changed.get(i, 0))) + b"\n" for i in range(rows))


def _stored_bytes(store: ObjectStore) -> tuple[int, int]:
    """Bytes and count of every object under the store's prefix."""
    items = store._list(store.target.prefix, "bench: listing the store")
    return sum(int(item["Size"]) for item in items), len(items)


def _commit(store: ObjectStore, day: int, data: bytes, rows: int) -> tuple[str, float]:
    started = time.perf_counter()
    pointer = store.read_pointer()
    txn = store.begin()
    writer = txn.part_writer()
    for at in range(0, len(data), WRITE):
        writer.write(data[at : at + WRITE])
    sha, size = writer.close()
    ref = PartRef(name="users", sha256=sha, records=rows, bytes=size, oracle="users")
    txn.commit(
        manifest(payload={"day": day}, parts=[ref]),
        move_pointer=True,
        expected_generation=pointer.generation if pointer else 0,
    )
    return sha, time.perf_counter() - started


def _read(store: ObjectStore, sha: str, size: int) -> float:
    started = time.perf_counter()
    read = 0
    with store.open_part(sha) as handle:
        while block := handle.read(1 << 20):
            read += len(block)
    assert read == size, (read, size)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--changes", type=int, default=20, help="rows changed a day")
    args = parser.parse_args()
    print(f"load: {os.getloadavg()}")
    server = MotoServer().start()
    try:
        bucket = server.make_bucket()
        run = uuid.uuid4().hex[:8]
        stores = {
            "chunked (768)": open_store(server.endpoint_url, bucket, f"{run}-chunked"),
            "whole (0)": open_store(server.endpoint_url, bucket, f"{run}-whole", chunk_size=0),
        }
        rng = random.Random(17)
        changed: dict[int, int] = {}
        for day in range(args.days):
            if day:
                for i in rng.sample(range(args.rows), args.changes):
                    changed[i] = day
            data = _table(args.rows, changed)
            print(f"day {day + 1}: {len(data):,} bytes of JSON Lines, {len(changed)} rows changed")
            for label, store in stores.items():
                sha, commit_s = _commit(store, day, data, args.rows)
                read_s = _read(
                    open_store(server.endpoint_url, bucket, store.target.prefix), sha, len(data)
                )
                stored, objects = _stored_bytes(store)
                line = (
                    f"  {label:14} stored {stored:>12,} bytes in {objects:3} objects; "
                    f"commit {commit_s:6.2f} s, read {read_s:5.2f} s"
                )
                if store.chunk_size:
                    fresh = open_store(server.endpoint_url, bucket, store.target.prefix)
                    started = time.perf_counter()
                    table = fresh.part_chunks(sha)
                    took = time.perf_counter() - started
                    line += f", part_chunks {took:5.2f} s ({len(table or ())} chunks)"
                print(line, flush=True)
        for label, store in stores.items():
            started = time.perf_counter()
            report = store.verify()
            print(f"verify {label}: ok={report.ok} in {time.perf_counter() - started:.2f} s")
    finally:
        server.stop()
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
