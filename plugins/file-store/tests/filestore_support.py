"""Helpers for the file store's tests: opening a store and damaging its files."""

from __future__ import annotations

from pathlib import Path

from snapkit.store import SnapshotStore

from snapkit_file_store import FileStore


def open_store(path: Path) -> FileStore:
    """Open (creating if needed) the file store at ``path``."""
    return FileStore(path)


def damage_part(store: SnapshotStore, sha256: str, how: str) -> None:
    """Damage stored part ``sha256`` in place: flip a bit, truncate it, or delete it."""
    assert isinstance(store, FileStore)
    path = store.layout.part(sha256)
    if how == "delete":
        path.unlink()
        return
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0x10
    elif how == "truncate":
        del data[len(data) // 2 :]
    else:
        raise ValueError(how)
    path.write_bytes(bytes(data))


def damage_manifest(store: SnapshotStore, snapshot_id: str) -> None:
    """Change one byte of a stored manifest (a digit of its schema version)."""
    assert isinstance(store, FileStore)
    path = store.layout.manifest(snapshot_id)
    text = path.read_bytes()
    path.write_bytes(text.replace(b'"schema_version":"1"', b'"schema_version":"2"'))
