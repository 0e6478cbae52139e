"""Where each object lives inside a file store's directory.

Layout under the store's root (mode ``0700``; every file ``0600``)::

    parts/ab/abcdef....jsonl.zst   parts, named by the SHA-256 of their uncompressed bytes: a
                                   seekable zstd file, or a chunk list (``chunklist``)
    packs/ab/abcdef....pack        packs of chunks (zstd frames), named by their SHA-256
    snapshots/<id>.json            manifests (canonical JSON), named by snapshot id
    current.json                   the current pointer
    history.jsonl                  append-only history of pointer moves and runs
    history-damaged.jsonl          damaged history lines ``verify`` set aside (if any)
    index.jsonl                    append-only listing index (rebuilt from manifests if damaged)
    lease.json                     the refresh lease (holder, host, pid, times)
    tmp/                           staging directories and temp files; never read as data
    *.lock                         inter-process mutexes (filelock)

Paths are built only from validated hex digests, never from caller text.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

from attrs import frozen

from snapkit.errors import InvalidIdentifierError
from snapkit.identifiers import check_id_prefix, check_snapshot_id

_SHA256 = re.compile(r"[0-9a-f]{64}")
MANIFEST_SUFFIX = ".json"
PART_SUFFIX = ".jsonl.zst"
PACK_SUFFIX = ".pack"


def check_part_hash(value: str) -> str:
    """Return ``value`` if it is a part hash (64 lowercase hex digits), else raise."""
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise InvalidIdentifierError(
            f"invalid part hash {value!r}", hint="a part hash is 64 lowercase hex digits"
        )
    return value


def check_id(value: str) -> str:
    """Return ``value`` if it is a full snapshot id (64 lowercase hex digits, nothing else)."""
    return check_snapshot_id(value)


def check_prefix(value: str) -> str:
    """Return ``value`` if it is a snapshot id or prefix (1-64 lowercase hex digits only)."""
    return check_id_prefix(value)


def host_tag() -> str:
    """A short, file-name-safe tag of this host (temp names carry it with the pid)."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def writer_tag() -> str:
    """``<host tag>-<pid>``: who made a temp file, so cleanup can tell if its maker is dead."""
    return f"{host_tag()}-{os.getpid()}"


def _is_manifest_name(name: str) -> bool:
    stem = name[: -len(MANIFEST_SUFFIX)]
    return name.endswith(MANIFEST_SUFFIX) and bool(_SHA256.fullmatch(stem))


@frozen
class Layout:
    """The paths of one store directory."""

    root: Path

    @property
    def parts(self) -> Path:
        """Directory of stored parts (two-hex-digit fan-out)."""
        return self.root / "parts"

    @property
    def packs(self) -> Path:
        """Directory of pack files (two-hex-digit fan-out)."""
        return self.root / "packs"

    @property
    def snapshots(self) -> Path:
        """Directory of manifests."""
        return self.root / "snapshots"

    @property
    def tmp(self) -> Path:
        """Staging area and temp files."""
        return self.root / "tmp"

    @property
    def pointer(self) -> Path:
        """The current pointer file."""
        return self.root / "current.json"

    @property
    def history(self) -> Path:
        """The history file (JSON Lines)."""
        return self.root / "history.jsonl"

    @property
    def history_damaged(self) -> Path:
        """Where ``verify`` keeps the damaged lines it took out of the history."""
        return self.root / "history-damaged.jsonl"

    @property
    def index(self) -> Path:
        """The listing index (JSON Lines of SnapshotInfo)."""
        return self.root / "index.jsonl"

    @property
    def lease(self) -> Path:
        """The refresh lease file."""
        return self.root / "lease.json"

    @property
    def meta_lock(self) -> Path:
        """Mutex around pointer compare-and-swap, index and history appends, prune."""
        return self.root / "meta.lock"

    @property
    def lease_lock(self) -> Path:
        """Mutex around reading and writing the lease file."""
        return self.root / "lease.lock"

    def part(self, sha256: str) -> Path:
        """The stored file of part ``sha256`` (validated)."""
        check_part_hash(sha256)
        return self.parts / sha256[:2] / f"{sha256}{PART_SUFFIX}"

    def pack(self, sha256: str) -> Path:
        """The file of pack ``sha256`` (validated)."""
        check_part_hash(sha256)
        return self.packs / sha256[:2] / f"{sha256}{PACK_SUFFIX}"

    def manifest(self, snapshot_id: str) -> Path:
        """The manifest file of snapshot ``snapshot_id`` (validated)."""
        check_id(snapshot_id)
        return self.snapshots / f"{snapshot_id}{MANIFEST_SUFFIX}"

    def manifest_ids(self) -> list[str]:
        """Ids of every manifest file present (names that are not ids are left out)."""
        try:
            names = os.listdir(self.snapshots)
        except FileNotFoundError:
            return []
        return [name[: -len(MANIFEST_SUFFIX)] for name in names if _is_manifest_name(name)]

    def stray_manifest_names(self) -> list[str]:
        """Names in ``snapshots/`` that are not ``<id>.json``."""
        try:
            names = os.listdir(self.snapshots)
        except FileNotFoundError:
            return []
        return sorted(name for name in names if not _is_manifest_name(name))

    def part_files(self) -> list[tuple[str, Path]]:
        """``(name stem, path)`` of every file under ``parts/``, sorted by name."""
        return _fanned(self.parts, PART_SUFFIX)

    def pack_files(self) -> list[tuple[str, Path]]:
        """``(name stem, path)`` of every file under ``packs/``, sorted by name."""
        return _fanned(self.packs, PACK_SUFFIX)


def _fanned(root: Path, suffix: str) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    try:
        fans = os.listdir(root)
    except FileNotFoundError:
        return []
    for fan in fans:
        fan_dir = root / fan
        if not fan_dir.is_dir():
            found.append((fan, fan_dir))
            continue
        for name in os.listdir(fan_dir):
            stem = name[: -len(suffix)] if name.endswith(suffix) else name
            found.append((stem, fan_dir / name))
    return sorted(found)
