"""What the store's helper modules use of a :class:`~snapkit_file_store.store.FileStore`.

``transaction``, ``prune`` and ``verify`` work on the store through this interface and never
import :mod:`snapkit_file_store.store` (which imports them): the dependencies run one way,
``store`` -> helpers -> ``internals``. These members are internal to the distribution; other
packages use the :class:`snapkit.store.SnapshotStore` contract.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from snapkit.contracts import HistoryEntry, Pointer, SnapshotManifest
from snapkit.store import CommitResult
from snapkit_file_store.chunked import KnownChunks
from snapkit_file_store.index import SnapshotIndex
from snapkit_file_store.jsonlines import ContractLog
from snapkit_file_store.manifests import ManifestFiles
from snapkit_file_store.paths import Layout


class StoreInternals(Protocol):
    """The store's files, locks and repairs, as its own modules use them."""

    layout: Layout
    compression_level: int
    chunk_size: int
    manifest_files: ManifestFiles
    snapshot_index: SnapshotIndex
    history_log: ContractLog[HistoryEntry]

    def known_chunks(self) -> KnownChunks:
        """The chunks a new transaction may reference instead of storing them again."""
        ...

    def hash_part(self, sha256: str) -> tuple[str, int]:
        """Re-hash a stored part (chunked or whole): its SHA-256 and plain size."""
        ...

    def exists(self) -> bool:
        """Whether the store's directory exists."""
        ...

    def meta_mutex(self) -> AbstractContextManager[None]:
        """The short inter-process mutex around store writes."""
        ...

    def checked_index(self, *, locked: bool = False) -> SnapshotIndex:
        """The listing index, checked against the manifests."""
        ...

    def index_out_of_step(self) -> bool:
        """Whether the listing index must be rebuilt from the manifests."""
        ...

    def rebuild_index(self) -> None:
        """Rebuild the listing index from the manifests (under the mutex)."""
        ...

    def pointer_expected(self) -> bool:
        """Whether a current pointer should exist."""
        ...

    def pointer_locked(self) -> Pointer | None:
        """The current pointer, read under the mutex (recovered if damaged)."""
        ...

    def recover_locked(self, reason: str, *, keep_if_none: bool = False) -> Pointer | None:
        """Recover the pointer from history and manifests (under the mutex)."""
        ...

    def heal_history_locked(self, pointer: Pointer) -> int:
        """Append the history entries the pointer's move lacks; return how many."""
        ...

    def take_recovery_flag(self) -> bool:
        """Whether a recovery happened since the last call (and clear the flag)."""
        ...

    def commit_staged(
        self,
        staging: Path,
        manifest: SnapshotManifest,
        *,
        move_pointer: bool,
        expected_generation: int | None,
    ) -> CommitResult:
        """Install a transaction's staged parts and manifest, moving the pointer if asked."""
        ...
