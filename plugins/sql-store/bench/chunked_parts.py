"""What chunked parts cost and save in the SQL stores: bytes, commit and read times.

Writes ``--days`` snapshots of one table of ``--rows`` OneRoster-like users (``bench/_common``)
into fresh stores with ``chunk_size = 0`` (whole parts) and ``chunk_size = 768`` (the
default), changing ``--changes`` scattered rows a day, and prints after each day the store's
bytes (SQLite: the file after a WAL checkpoint; PostgreSQL: ``pg_total_relation_size`` of the
schema's tables), the time to write and commit the day's part, and the time of a full checked
read (``iter_part_blocks``) of it.

    python plugins/sql-store/bench/chunked_parts.py                    # SQLite, 200,000 rows
    python plugins/sql-store/bench/chunked_parts.py --stores sqlite,postgresql --rows 50000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from _common import table, users

from snapkit.canonical import canonical_bytes
from snapkit.contracts import PartRef
from snapkit.testing.store_kit import manifest


def store_bytes(store: Any) -> int:
    if store.key == "sqlite":
        with store.backend.read() as db:
            db.one("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(Path(store.location).stat().st_size)
    with store.backend.read() as db:
        row = db.one(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r'",
            (store.backend.schema,),
        )
    return int(row[0]) if row and row[0] is not None else 0


def run(open_store: Any, rows: list[dict[str, Any]], days: int, changes: int) -> list[list[Any]]:
    store = open_store()
    out = []
    before = 0
    try:
        for day in range(days):
            if day:
                step = len(rows) // changes
                for k in range(changes):
                    i = (k * step + day * 7919) % len(rows)
                    rows[i] = {**rows[i], "familyName": f"changed on day {day}"}
            data = b"".join(canonical_bytes(r) + b"\n" for r in rows)
            pointer = store.read_pointer()
            started = time.perf_counter()
            txn = store.begin()
            writer = txn.part_writer()
            for start in range(0, len(data), 1 << 16):
                writer.write(data[start : start + (1 << 16)])
            sha, size = writer.close()
            ref = PartRef(name="users", sha256=sha, records=len(rows), bytes=size, oracle="u")
            txn.commit(
                manifest(payload=day, parts=[ref]),
                move_pointer=True,
                expected_generation=pointer.generation if pointer else 0,
            )
            commit_s = time.perf_counter() - started
            started = time.perf_counter()
            read = sum(len(b) for b in store.iter_part_blocks(sha))
            read_s = time.perf_counter() - started
            assert read == size
            chunks = store.part_chunks(sha) if hasattr(store, "part_chunks") else None
            now = store_bytes(store)
            out.append(
                [
                    day + 1,
                    f"{size / 1e6:.1f}",
                    len(chunks) if chunks is not None else "whole",
                    f"{now / 1e6:.2f}",
                    f"{(now - before) / 1e6:.3f}",
                    f"{commit_s:.2f}",
                    f"{read_s:.2f}",
                ]
            )
            before = now
    finally:
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--changes", type=int, default=5)
    parser.add_argument("--stores", default="sqlite")
    args = parser.parse_args()
    from snapkit_sql_store import open_postgresql, open_sqlite
    from snapkit_sql_store.testing import PostgresServer

    base = list(users(args.rows))
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.stores.split(","):
            server = PostgresServer().start() if kind == "postgresql" else None
            try:
                for chunk_size in (0, 768):
                    if server is not None:
                        dsn = server.socket_dsn()

                        def opener(c: int = chunk_size, dsn: str = dsn) -> Any:
                            return open_postgresql(dsn, schema=f"bench_{c}", chunk_size=c)
                    else:

                        def opener(c: int = chunk_size) -> Any:
                            return open_sqlite(Path(folder) / f"s{c}.sqlite3", chunk_size=c)

                    print(f"\n{kind}, chunk_size = {chunk_size}")
                    table(
                        ["day", "part MB", "chunks", "store MB", "added MB", "commit s", "read s"],
                        run(opener, [dict(r) for r in base], args.days, args.changes),
                    )
            finally:
                if server is not None:
                    server.stop()


if __name__ == "__main__":
    main()
