"""Test helpers for the file store: the damage hooks the store conformance kit asks for.

Use them with :class:`snapkit.testing.store_kit.StoreConformance`, or in crash and recovery
tests that need a damaged part or manifest on disk.
"""

from __future__ import annotations

from pathlib import Path

from snapkit.store import SnapshotStore
from snapkit_file_store import FileStore


def open_store(path: Path) -> FileStore:
    """Open the file store at ``path`` (a missing directory is created by the first write)."""
    return FileStore(path)


def _file_store(store: SnapshotStore) -> FileStore:
    if not isinstance(store, FileStore):
        raise TypeError(f"these helpers damage a FileStore, not {type(store).__name__}")
    return store


def damage_part(store: SnapshotStore, sha256: str, how: str) -> None:
    """Damage stored part ``sha256`` in place: flip a bit, truncate it, or delete it."""
    store = _file_store(store)
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
        raise ValueError(f"unknown damage {how!r}; use flip, truncate or delete")
    path.write_bytes(bytes(data))


def damage_manifest(store: SnapshotStore, snapshot_id: str) -> None:
    """Change one byte of a stored manifest (a digit of its schema version)."""
    store = _file_store(store)
    path = store.layout.manifest(snapshot_id)
    text = path.read_bytes()
    path.write_bytes(text.replace(b'"schema_version":"1"', b'"schema_version":"2"'))
