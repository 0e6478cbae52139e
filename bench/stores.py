"""The stores side by side: file, SQLite, PostgreSQL and S3, each beside its own raw floor.

For each store prints commit p50/p99 (a small snapshot: manifest recorded, pointer moved by
compare-and-swap, history appended, all durable), the warm current-snapshot read p99 (from a
second handle, as a web host reads), and part write and read throughput in MB of plain
canonical JSON Lines per second (write: streamed through ``txn.part_writer()``, hashed,
compressed, committed; read: ``iter_part_blocks`` with the SHA-256 check). Beside each figure
is the same medium's raw floor, measured in the same run:

- file: write+fsync+rename of a small file; read of the pointer file; write+fsync and read of
  the same plain bytes;
- sqlite: bare ``sqlite3`` (same file settings: WAL, synchronous=FULL): one ``UPDATE ... WHERE
  generation = ?`` plus one ``INSERT`` per commit; one ``SELECT`` of a row per read; the plain
  bytes inserted and selected as 1 MiB rows;
- postgresql: a bare ``psycopg`` connection to the same server (a throwaway cluster started
  here on loopback, ``fsync`` on): the same statements;
- s3: a bare boto3 client on the same S3 server (moto's server mode, started here on
  loopback): one ``PutObject`` of a small object per commit, one ``GetObject`` of it per read,
  the plain bytes uploaded (in 8 MiB pieces, as the store's multipart uploads) and read back.

Parts are written whole (``chunk_size = 0``; the SQL stores' default): the part here repeats
one 1 MiB block, which chunks would store once. What chunked parts cost and save is measured
by ``bench/storage.py`` (the file store) and the plugins' own benches
(``plugins/sql-store/bench/chunked_parts.py``, ``plugins/object-store/bench/chunks.py``).

Targets: part write within 1.5x of raw (store time / raw time <= 1.5), current read p99 under
2 ms on PostgreSQL and 10 ms on S3.

    python bench/stores.py                       # 300 commits, a 100 MB part
    python bench/stores.py --commits 1000 --part-mb 300
    python bench/stores.py --stores s3          # only some stores (file,sqlite,postgresql,s3)
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _common import table, users

MB = 1e6
CHUNK = 1 << 20


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f}"


def measure_store(
    open_store: Callable[[], Any], commits: int, reads: int, chunk: bytes, repeats: int
) -> dict[str, float]:
    """Commit, current-read, part-write and part-read figures of one store."""
    from snapkit.contracts import PartRef, Scope, SnapshotManifest

    store = open_store()
    times: list[float] = []
    generation = 0
    for i in range(commits):
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
        times.append(time.perf_counter() - started)
        generation = result.pointer.generation

    reader = open_store()
    reader.latest_successful()
    read_times: list[float] = []
    for _ in range(reads):
        started = time.perf_counter()
        current = reader.latest_successful()
        read_times.append(time.perf_counter() - started)
    assert current is not None and current.payloads["counter"]["n"] == commits - 1

    txn = store.begin()
    started = time.perf_counter()
    writer = txn.part_writer()
    for _ in range(repeats):
        writer.write(chunk)
    sha, size = writer.close()
    part = PartRef(name="users", sha256=sha, records=0, bytes=size, oracle="users")
    manifest = SnapshotManifest(
        scope=Scope("bench"),
        schema_version="1",
        calculation_version="1",
        status="success",
        parts=(part,),
    )
    txn.commit(manifest, move_pointer=True, expected_generation=generation)
    write_seconds = time.perf_counter() - started

    started = time.perf_counter()
    read_bytes = sum(len(block) for block in reader.iter_part_blocks(sha, verify=True))
    read_seconds = time.perf_counter() - started
    assert read_bytes == size
    for handle in (store, reader):
        close = getattr(handle, "close", None)
        if close is not None:
            close()
    return {
        "commit_p50": percentile(times, 0.5),
        "commit_p99": percentile(times, 0.99),
        "read_p99": percentile(read_times, 0.99),
        "read_p50": percentile(read_times, 0.5),
        "write_mbs": size / MB / write_seconds,
        "read_mbs": size / MB / read_seconds,
        "write_s": write_seconds,
        "size": size,
    }


# -- raw floors ------------------------------------------------------------------------------


def raw_file(
    folder: Path, commits: int, reads: int, chunk: bytes, repeats: int
) -> dict[str, float]:
    folder.mkdir(parents=True, exist_ok=True)
    times = []
    for i in range(commits):
        started = time.perf_counter()
        tmp = folder / "pointer.tmp"
        with tmp.open("wb") as out:
            out.write(json.dumps({"n": i}).encode())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, folder / "pointer.json")
        fd = os.open(folder, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        times.append(time.perf_counter() - started)
    read_times = []
    for _ in range(reads):
        started = time.perf_counter()
        json.loads((folder / "pointer.json").read_bytes())
        read_times.append(time.perf_counter() - started)
    started = time.perf_counter()
    with (folder / "part.bin").open("wb") as out:
        for _ in range(repeats):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    write_seconds = time.perf_counter() - started
    started = time.perf_counter()
    size = 0
    with (folder / "part.bin").open("rb") as handle:
        while block := handle.read(CHUNK):
            size += len(block)
    read_seconds = time.perf_counter() - started
    return _raw(times, read_times, size, write_seconds, read_seconds)


def _raw(
    times: list[float],
    read_times: list[float],
    size: int,
    write_seconds: float,
    read_seconds: float,
) -> dict[str, float]:
    return {
        "commit_p50": percentile(times, 0.5),
        "commit_p99": percentile(times, 0.99),
        "read_p99": percentile(read_times, 0.99),
        "read_p50": percentile(read_times, 0.5),
        "write_mbs": size / MB / write_seconds,
        "read_mbs": size / MB / read_seconds,
        "write_s": write_seconds,
        "size": size,
    }


RAW_DDL = [
    "CREATE TABLE raw_pointer (id INTEGER PRIMARY KEY, snapshot_id TEXT, generation BIGINT)",
    "CREATE TABLE raw_history (seq INTEGER PRIMARY KEY, snapshot_id TEXT, generation BIGINT)",
    "CREATE TABLE raw_chunks (seq INTEGER PRIMARY KEY, data {blob})",
    "INSERT INTO raw_pointer VALUES (1, 'x', 0)",
]


def raw_sql(
    execute: Callable[..., Any],
    fetch: Callable[..., Any],
    begin: Callable[[], None],
    commit: Callable[[], None],
    mark: str,
    blob: str,
    commits: int,
    reads: int,
    chunk: bytes,
    repeats: int,
) -> dict[str, float]:
    """The floor of a SQL server: the same kinds of statements, nothing else."""
    for statement in RAW_DDL:
        execute(statement.format(blob=blob))
    times = []
    for i in range(commits):
        started = time.perf_counter()
        begin()
        execute(
            f"UPDATE raw_pointer SET snapshot_id = {mark}, generation = {mark} "
            f"WHERE id = 1 AND generation = {mark}",
            (f"s{i}", i + 1, i),
        )
        execute(
            f"INSERT INTO raw_history (seq, snapshot_id, generation) VALUES "
            f"({mark}, {mark}, {mark})",
            (i, f"s{i}", i + 1),
        )
        commit()
        times.append(time.perf_counter() - started)
    read_times = []
    for _ in range(reads):
        started = time.perf_counter()
        fetch(f"SELECT snapshot_id, generation FROM raw_pointer WHERE id = {mark}", (1,))
        read_times.append(time.perf_counter() - started)
    data = chunk * repeats
    started = time.perf_counter()
    for seq, start in enumerate(range(0, len(data), CHUNK)):
        execute(
            f"INSERT INTO raw_chunks (seq, data) VALUES ({mark}, {mark})",
            (seq, data[start : start + CHUNK]),
        )
    write_seconds = time.perf_counter() - started
    count = seq + 1
    started = time.perf_counter()
    size = 0
    for first in range(0, count, 4):
        for row in fetch(
            f"SELECT data FROM raw_chunks WHERE seq >= {mark} AND seq < {mark} ORDER BY seq",
            (first, first + 4),
            many=True,
        ):
            size += len(row[0])
    read_seconds = time.perf_counter() - started
    return _raw(times, read_times, size, write_seconds, read_seconds)


def raw_sqlite(
    path: Path, commits: int, reads: int, chunk: bytes, repeats: int
) -> dict[str, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")

    def fetch(sql: str, params: tuple[Any, ...], many: bool = False) -> Any:
        cursor = conn.execute(sql, params)
        return cursor.fetchall() if many else cursor.fetchone()

    result = raw_sql(
        lambda sql, params=(): conn.execute(sql, params),
        fetch,
        lambda: conn.execute("BEGIN IMMEDIATE"),
        lambda: conn.execute("COMMIT"),
        "?",
        "BLOB",
        commits,
        reads,
        chunk,
        repeats,
    )
    conn.close()
    return result


def raw_postgres(
    dsn: str, commits: int, reads: int, chunk: bytes, repeats: int
) -> dict[str, float]:
    import psycopg

    conn = psycopg.connect(dsn, autocommit=True)

    def fetch(sql: str, params: tuple[Any, ...], many: bool = False) -> Any:
        cursor = conn.execute(sql, params, binary=True)
        return cursor.fetchall() if many else cursor.fetchone()

    result = raw_sql(
        lambda sql, params=(): conn.execute(sql, params),
        fetch,
        lambda: conn.execute("BEGIN"),
        lambda: conn.execute("COMMIT"),
        "%s",
        "BYTEA",
        commits,
        reads,
        chunk,
        repeats,
    )
    conn.close()
    return result


def raw_s3(
    endpoint_url: str, bucket: str, commits: int, reads: int, chunk: bytes, repeats: int
) -> dict[str, float]:
    """The floor of an S3 server: bare boto3 puts and gets of the same sizes, nothing else."""
    from snapkit_object_store.client import Target, make_client

    client = make_client(
        Target(endpoint_url, bucket, "", "us-east-1"),
        access_key_id="testing",
        secret_access_key="testing",
    )
    times = []
    for i in range(commits):
        started = time.perf_counter()
        client.put_object(Bucket=bucket, Key="raw/pointer.json", Body=json.dumps({"n": i}).encode())
        times.append(time.perf_counter() - started)
    read_times = []
    for _ in range(reads):
        started = time.perf_counter()
        json.loads(client.get_object(Bucket=bucket, Key="raw/pointer.json")["Body"].read())
        read_times.append(time.perf_counter() - started)
    data = chunk * repeats
    piece = 8 << 20
    started = time.perf_counter()
    upload = client.create_multipart_upload(Bucket=bucket, Key="raw/part.bin")
    pieces = []
    for number, start in enumerate(range(0, len(data), piece), start=1):
        answer = client.upload_part(
            Bucket=bucket,
            Key="raw/part.bin",
            PartNumber=number,
            UploadId=upload["UploadId"],
            Body=data[start : start + piece],
        )
        pieces.append({"PartNumber": number, "ETag": answer["ETag"]})
    client.complete_multipart_upload(
        Bucket=bucket,
        Key="raw/part.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": pieces},
    )
    write_seconds = time.perf_counter() - started
    started = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key="raw/part.bin")["Body"]
    size = sum(len(block) for block in body.iter_chunks(CHUNK))
    read_seconds = time.perf_counter() - started
    return _raw(times, read_times, size, write_seconds, read_seconds)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--reads", type=int, default=5000)
    parser.add_argument("--part-mb", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="1,000 commits and a 300 MB part")
    parser.add_argument(
        "--stores", default="file,sqlite,postgresql,s3", help="comma-separated stores to measure"
    )
    args = parser.parse_args()
    wanted = set(args.stores.split(","))
    if args.full:
        args.commits, args.part_mb = 1000, 300

    from snapkit.parts import encode_record
    from snapkit_file_store import FileStore
    from snapkit_object_store.testing import MotoServer, open_store
    from snapkit_sql_store import open_postgresql, open_sqlite
    from snapkit_sql_store.testing import PostgresServer

    chunk = b"".join(encode_record(r) for r in users(20_000))
    repeats = max(1, args.part_mb * 1_000_000 // len(chunk))
    folder = Path(tempfile.mkdtemp(prefix="snapkit-stores-"))
    server = PostgresServer().start() if "postgresql" in wanted else None
    moto = MotoServer().start() if "s3" in wanted else None
    results: list[tuple[str, dict[str, float], dict[str, float]]] = []
    try:
        n, r = args.commits, args.reads
        if "file" in wanted:
            print("file store...", file=sys.stderr)
            results.append(
                (
                    "file",
                    measure_store(
                        lambda: FileStore(folder / "file", chunk_size=0), n, r, chunk, repeats
                    ),
                    raw_file(folder / "raw-file", n, r, chunk, repeats),
                )
            )
        if "sqlite" in wanted:
            print("sqlite store...", file=sys.stderr)
            db = folder / "sqlite" / "store.sqlite3"
            results.append(
                (
                    "sqlite",
                    measure_store(lambda: open_sqlite(db), n, r, chunk, repeats),
                    raw_sqlite(folder / "raw.sqlite3", n, r, chunk, repeats),
                )
            )
        if server is not None:
            print("postgresql store...", file=sys.stderr)
            dsn = server.dsn()
            results.append(
                (
                    "postgresql",
                    measure_store(
                        lambda: open_postgresql(dsn, schema="bench"), n, r, chunk, repeats
                    ),
                    raw_postgres(dsn, n, r, chunk, repeats),
                )
            )
        if moto is not None:
            print("s3 store (moto on loopback)...", file=sys.stderr)
            bucket = moto.make_bucket("bench")
            endpoint = moto.endpoint_url
            results.append(
                (
                    "s3",
                    measure_store(
                        lambda: open_store(endpoint, bucket, "store", chunk_size=0),
                        n,
                        r,
                        chunk,
                        repeats,
                    ),
                    raw_s3(endpoint, bucket, n, r, chunk, repeats),
                )
            )
    finally:
        if server is not None:
            server.stop()
        if moto is not None:
            moto.stop()

    size = results[0][1]["size"]
    load = os.getloadavg()[0]
    print(
        f"stores: {args.commits} commits, {args.reads} warm current reads, a part of "
        f"{size / MB:.0f} MB of canonical JSON Lines ({sys.version.split()[0]}, load "
        f"{load:.1f} on {os.cpu_count()} cores)"
    )
    rows = []
    for name, got, raw in results:
        rows += [
            (
                name,
                "commit p50 (ms)",
                ms(got["commit_p50"]),
                ms(raw["commit_p50"]),
                f"{got['commit_p50'] / raw['commit_p50']:.1f}x raw",
                "",
            ),
            (
                "",
                "commit p99 (ms)",
                ms(got["commit_p99"]),
                ms(raw["commit_p99"]),
                f"{got['commit_p99'] / raw['commit_p99']:.1f}x raw",
                "",
            ),
            (
                "",
                "current read p50 (ms)",
                ms(got["read_p50"]),
                ms(raw["read_p50"]),
                f"{got['read_p50'] / raw['read_p50']:.1f}x raw",
                "",
            ),
            (
                "",
                "current read p99 (ms)",
                ms(got["read_p99"]),
                ms(raw["read_p99"]),
                f"{got['read_p99'] / raw['read_p99']:.1f}x raw",
                {"postgresql": "< 2 ms", "s3": "< 10 ms"}.get(name, ""),
            ),
            (
                "",
                "part write (MB/s)",
                f"{got['write_mbs']:.0f}",
                f"{raw['write_mbs']:.0f}",
                f"{got['write_s'] / raw['write_s']:.2f}x raw time",
                "<= 1.5x",
            ),
            (
                "",
                "part read (MB/s)",
                f"{got['read_mbs']:.0f}",
                f"{raw['read_mbs']:.0f}",
                f"{raw['read_mbs'] and got['read_mbs'] / raw['read_mbs']:.0%} of raw",
                "",
            ),
        ]
    table(("store", "measure", "snapkit", "raw floor", "ratio", "target"), rows)
    print(
        "(raw floors: file = small write+fsync+rename+dir fsync, pointer file read, plain "
        "write+fsync/read; sqlite and postgresql = bare UPDATE ... WHERE generation = ? + "
        "INSERT per commit, one-row SELECT per read, the plain bytes as 1 MiB rows; s3 = bare "
        "boto3 PutObject per commit, GetObject per read, the plain bytes uploaded in 8 MiB "
        "pieces and read back)"
    )


if __name__ == "__main__":
    main()
