"""The store's tables, created and migrated by the store itself (never by hand).

``schema_version`` holds one row per migration applied (version, when, by which package). The
first write to a store runs :func:`migrate` inside one exclusive transaction: it creates what is
missing and applies every migration newer than the recorded version, so two processes opening a
new store at once cannot both create it. A database whose version is newer than this package
knows is refused with a message saying to upgrade.

Tables (every one insert-only except ``pointer``, moved by compare-and-swap, and ``lease``; a
prune deletes what retention drops, a commit may replace a damaged copy):

``manifests``       one row per snapshot: canonical JSON body, its SHA-256 and size, and the
                    listing columns (capture time, status, scope, counts)
``snapshot_parts``  which parts each recorded snapshot references (what prune keeps)
``parts``           one row per stored part: its SHA-256, codec, sizes, chunk count, blob id
``part_chunks``     the stored bytes, up to 1 MiB a row, by blob id and sequence number (a
                    chunked part's are its chunk list)
``chunks``          (version 2) the chunks of chunked parts, one row each: id, raw SHA-256
                    (unique), rows, size, its frame and place in it
``chunk_frames``    (version 2) chunks' bytes: consecutive new chunks of a part compressed
                    together (codec, plain size, bytes, and the upload that wrote it until a
                    commit names one of its chunks)
``uploads``         blobs being written by an open transaction (host, pid, start time)
``history``         pointer moves, failed runs and recorded snapshots, in order
``pointer``         at most one row: snapshot id, manifest SHA-256, generation, updated_at
``lease``           at most one row: the refresh lease's holder, host, pid, times, token
"""

from __future__ import annotations

from collections.abc import Callable

from snapkit.contracts import utc_now
from snapkit.errors import StoreError
from snapkit_sql_store.backend import Db

VERSION = "0.1.0"
"""This package's version, recorded with each migration it applies."""


def _v1(dialect: str) -> list[str]:
    pg = dialect == "postgresql"
    blob = "BYTEA" if pg else "BLOB"
    serial = (
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        if pg
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    hex_text = 'TEXT COLLATE "C"' if pg else "TEXT"
    return [
        f"""CREATE TABLE {{p}}manifests (
            seq {serial},
            snapshot_id {hex_text} NOT NULL UNIQUE,
            body {blob} NOT NULL,
            sha256 TEXT NOT NULL,
            size BIGINT NOT NULL,
            created_at TEXT NOT NULL,
            created_us BIGINT NOT NULL,
            status TEXT NOT NULL,
            namespace TEXT NOT NULL,
            scope_id TEXT NOT NULL,
            schema_version TEXT NOT NULL,
            calculation_version TEXT NOT NULL,
            size_bytes BIGINT NOT NULL,
            error_count INTEGER NOT NULL,
            part_count INTEGER NOT NULL,
            record_count BIGINT NOT NULL)""",
        "CREATE INDEX manifests_newest ON {p}manifests (created_us, seq)",
        f"""CREATE TABLE {{p}}snapshot_parts (
            snapshot_id {hex_text} NOT NULL,
            sha256 {hex_text} NOT NULL,
            PRIMARY KEY (snapshot_id, sha256))""",
        "CREATE INDEX snapshot_parts_sha256 ON {p}snapshot_parts (sha256)",
        f"""CREATE TABLE {{p}}uploads (
            blob_id {serial},
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL)""",
        f"""CREATE TABLE {{p}}part_chunks (
            blob_id BIGINT NOT NULL,
            seq INTEGER NOT NULL,
            data {blob} NOT NULL,
            PRIMARY KEY (blob_id, seq))""",
        f"""CREATE TABLE {{p}}parts (
            sha256 {hex_text} PRIMARY KEY,
            blob_id BIGINT NOT NULL UNIQUE,
            codec TEXT NOT NULL,
            size BIGINT NOT NULL,
            stored_bytes BIGINT NOT NULL,
            chunks INTEGER NOT NULL,
            stored_at TEXT NOT NULL)""",
        f"""CREATE TABLE {{p}}history (
            seq {serial},
            at TEXT NOT NULL,
            at_us BIGINT NOT NULL,
            event TEXT NOT NULL,
            snapshot_id {hex_text} NOT NULL,
            status TEXT NOT NULL,
            generation BIGINT,
            errors TEXT NOT NULL)""",
        "CREATE UNIQUE INDEX history_moves ON {p}history (generation) "
        "WHERE event = 'pointer_moved'",
        "CREATE INDEX history_snapshot ON {p}history (snapshot_id)",
        f"""CREATE TABLE {{p}}pointer (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            snapshot_id {hex_text} NOT NULL,
            manifest_sha256 TEXT NOT NULL,
            generation BIGINT NOT NULL,
            updated_at TEXT NOT NULL)""",
        """CREATE TABLE {p}lease (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            holder TEXT NOT NULL,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            acquired_at TEXT NOT NULL,
            heartbeat_at TEXT NOT NULL,
            token TEXT NOT NULL)""",
    ]


def _v2(dialect: str) -> list[str]:
    """Chunked parts (docs/stores.md): each chunk a row, stored once by its SHA-256."""
    pg = dialect == "postgresql"
    blob = "BYTEA" if pg else "BLOB"
    serial = (
        "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        if pg
        else "INTEGER PRIMARY KEY AUTOINCREMENT"
    )
    return [
        f"""CREATE TABLE {{p}}chunk_frames (
            id {serial},
            codec TEXT NOT NULL,
            size BIGINT NOT NULL,
            data {blob} NOT NULL,
            upload_id BIGINT)""",
        "CREATE INDEX chunk_frames_upload ON {p}chunk_frames (upload_id) "
        "WHERE upload_id IS NOT NULL",
        f"""CREATE TABLE {{p}}chunks (
            id {serial},
            sha256 {blob} NOT NULL UNIQUE,
            row_count INTEGER NOT NULL,
            size INTEGER NOT NULL,
            frame_id BIGINT NOT NULL,
            frame_offset INTEGER NOT NULL)""",
        "CREATE INDEX chunks_frame ON {p}chunks (frame_id)",
    ]


MIGRATIONS: dict[int, Callable[[str], list[str]]] = {1: _v1, 2: _v2}
"""Version -> the statements that bring a store from the version before to it."""

LATEST = max(MIGRATIONS)

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS {p}schema_version (
    version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL)"""


def check_known(version: int, location: str) -> None:
    """Refuse a store whose schema is newer than this package knows.

    :raises StoreError: naming both versions and what to do.
    """
    if version > LATEST:
        raise StoreError(
            f"the SQL store at {location} has schema version {version}; this "
            f"snapkit-sql-store {VERSION} knows versions up to {LATEST}",
            hint="upgrade snapkit-sql-store on this host",
        )


def migrate(db: Db, dialect: str, location: str) -> int:
    """Create the version table if missing and apply every migration not yet recorded.

    Call inside an exclusive write transaction. Returns the version the store is now at.
    """
    db.execute(VERSION_TABLE)
    row = db.one("SELECT max(version) FROM {p}schema_version")
    current = int(row[0]) if row and row[0] is not None else 0
    check_known(current, location)
    for version in range(current + 1, LATEST + 1):
        for statement in MIGRATIONS[version](dialect):
            db.execute(statement)
        db.execute(
            "INSERT INTO {p}schema_version (version, applied_at, applied_by) VALUES (?, ?, ?)",
            (version, utc_now(), f"snapkit-sql-store {VERSION}"),
        )
    return LATEST
