"""Test helpers for the SQL stores: the damage hooks the conformance kit asks for, and a real
PostgreSQL server in a temporary folder (used by this plugin's tests and ``bench/stores.py``).

:class:`PostgresServer` runs Debian's (or any) PostgreSQL binaries: ``initdb`` a fresh cluster,
``pg_ctl start`` on a free loopback port with its socket in the same folder, ``stop()`` removes
it all. PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres``
user (``runuser``). Missing binaries raise :class:`RuntimeError` saying what to install: a test
run without a server fails, it never skips.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from snapkit.store import SnapshotStore
from snapkit_sql_store.store import SqlStore

TEST_USER = "snapkit"
TEST_PASSWORD = "kit-secret"
TEST_DB = "snapkit"


def _sql_store(store: SnapshotStore) -> SqlStore:
    if not isinstance(store, SqlStore):
        raise TypeError(f"these helpers damage a SqlStore, not {type(store).__name__}")
    return store


def damage_part(store: SnapshotStore, sha256: str, how: str) -> None:
    """Damage stored part ``sha256`` in place: flip a bit, cut it short, or delete it."""
    sql = _sql_store(store)
    with sql.backend.write() as db:
        row = db.one("SELECT blob_id, chunks FROM {p}parts WHERE sha256 = ?", (sha256,))
        if row is None:
            raise KeyError(sha256)
        blob_id, chunks = int(row[0]), int(row[1])
        if how == "delete":
            db.execute("DELETE FROM {p}parts WHERE sha256 = ?", (sha256,))
            db.execute("DELETE FROM {p}part_chunks WHERE blob_id = ?", (blob_id,))
            return
        seq = chunks // 2 if how == "flip" else chunks - 1
        data_row = db.one(
            "SELECT data FROM {p}part_chunks WHERE blob_id = ? AND seq = ?", (blob_id, seq)
        )
        assert data_row is not None
        data = bytearray(bytes(data_row[0]))
        if how == "flip":
            data[len(data) // 2] ^= 0x10
        elif how == "truncate":
            del data[len(data) // 2 :]
        else:
            raise ValueError(f"unknown damage {how!r}; use flip, truncate or delete")
        db.execute(
            "UPDATE {p}part_chunks SET data = ? WHERE blob_id = ? AND seq = ?",
            (bytes(data), blob_id, seq),
        )


def damage_chunk(store: SnapshotStore, sha256: str, position: int, how: str) -> None:
    """Damage chunk ``position`` of chunked part ``sha256``: flip a bit of its stored bytes
    (in the frame holding it: its neighbours in the frame are damaged too, unless the frame is
    plain), or delete its row."""
    from snapkit_sql_store.chunks import resolve

    sql = _sql_store(store)
    row = sql._stored_part(sha256)
    resolved = resolve(sql.backend, sha256, row.blob_id, row.chunks, row.size)
    chunk_id = resolved.ids[position]
    with sql.backend.write() as db:
        place = db.one("SELECT frame_id, frame_offset FROM {p}chunks WHERE id = ?", (chunk_id,))
        assert place is not None
        frame_id, offset = int(place[0]), int(place[1])
        if how == "delete":
            db.execute("DELETE FROM {p}chunks WHERE id = ?", (chunk_id,))
            return
        if how != "flip":
            raise ValueError(f"unknown damage {how!r}; use flip or delete")
        found = db.one("SELECT codec, data FROM {p}chunk_frames WHERE id = ?", (frame_id,))
        assert found is not None
        data = bytearray(bytes(found[1]))
        at = offset + resolved.table.sizes[position] // 2 if found[0] == "raw" else len(data) // 2
        data[at] ^= 0x10
        db.execute("UPDATE {p}chunk_frames SET data = ? WHERE id = ?", (bytes(data), frame_id))


def damage_manifest(store: SnapshotStore, snapshot_id: str) -> None:
    """Change one byte of a stored manifest (a digit of its schema version)."""
    sql = _sql_store(store)
    with sql.backend.write() as db:
        row = db.one("SELECT body FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
        if row is None:
            raise KeyError(snapshot_id)
        body = bytes(row[0]).replace(b'"schema_version":"1"', b'"schema_version":"2"')
        db.execute("UPDATE {p}manifests SET body = ? WHERE snapshot_id = ?", (body, snapshot_id))


def postgres_bindir() -> Path:
    """The folder of PostgreSQL's server binaries (the newest installed version).

    :raises RuntimeError: if there are none, saying what to install.
    """
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) are not installed: "
        "apt-get install -y postgresql (the SQL store's tests need a real server)"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """A throwaway PostgreSQL cluster on loopback; ``start()`` it, ``stop()`` removes it.

    It has a superuser :data:`TEST_USER` with password :data:`TEST_PASSWORD` (TCP connections
    need the password; the socket trusts) and a database :data:`TEST_DB`.
    """

    def __init__(self, *, settings: dict[str, str] | None = None) -> None:
        self.bindir = postgres_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="snapkit-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._settings = {"max_connections": "300", **(settings or {})}
        self._as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        if proc.returncode != 0:
            raise RuntimeError(
                f"{args[0]} failed ({proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()[-2000:]}"
            )

    def start(self) -> PostgresServer:
        """Create the cluster, start the server and create the test user and database."""
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
        os.chmod(self.root, 0o700)
        pwfile = self.root / "pw"
        pwfile.write_text(TEST_PASSWORD + "\n")
        if self._as_root:
            shutil.chown(pwfile, "postgres", "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            TEST_USER,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        for key, value in self._settings.items():
            options += f" -c {key}={value}"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        self.started = True
        self._run("createdb", "-h", str(self.root), "-p", str(self.port), "-U", TEST_USER, TEST_DB)
        return self

    def dsn(
        self, *, password: str | None = TEST_PASSWORD, user: str = TEST_USER, dbname: str = TEST_DB
    ) -> str:
        """A URL to this server over TCP (with the password, unless ``None``)."""
        secret = f":{password}" if password is not None else ""
        return f"postgresql://{user}{secret}@127.0.0.1:{self.port}/{dbname}"

    def socket_dsn(self, *, user: str = TEST_USER, dbname: str = TEST_DB) -> str:
        """A connection string to this server over its Unix socket (trusted: no password)."""
        return f"host={self.root} port={self.port} user={user} dbname={dbname}"

    def settings(self, **extra: Any) -> dict[str, Any]:
        """``postgresql`` store settings for this server."""
        return {"dsn": self.dsn(), **extra}

    def stop(self) -> None:
        """Stop the server (immediately) and remove its folder."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            self.started = False
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
