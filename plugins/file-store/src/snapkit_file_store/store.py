"""The file store: snapshots in a private directory, the pointer moved by compare-and-swap.

See :mod:`snapkit_file_store.paths` for the layout. Writers take a short inter-process mutex
(``meta.lock``) around installing parts and the manifest, appending to the index and history,
and the pointer's read-compare-write; readers take no lock (every file they read is replaced
atomically or only appended to).

Opening a store and reading it never create anything: a directory that does not exist yet reads
as an empty store. The first write (a transaction, the refresh lease, a commit, a pointer
recovery) creates the directories, mode ``0700``, each creation made durable in its parent.
"""

from __future__ import annotations

import datetime as _dt
import filecmp
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, Literal

import attrs
import filelock

from snapkit.chunking import CHUNK_TARGET, MIN_CHUNK_TARGET
from snapkit.contracts import (
    HistoryEntry,
    Pointer,
    SnapshotInfo,
    SnapshotManifest,
    parse_time,
    utc_now,
)
from snapkit.errors import (
    CorruptSnapshotError,
    PointerConflictError,
    SnapshotNotFoundError,
    StoreError,
)
from snapkit.store import (
    ChunkTable,
    CommitResult,
    ListFilter,
    LockInfo,
    PartOpener,
    PruneReport,
    RetentionPolicy,
    VerifyReport,
    info_of,
    pointer_trail,
)
from snapkit_file_store.atomic import FILE_MODE, fsync_dir, make_dir, remove_quietly
from snapkit_file_store.chunked import (
    ChunkList,
    KnownChunks,
    KnownLists,
    chunked_blocks,
    chunked_ranges,
    hash_chunked,
    iter_chunk_bytes,
    known_chunks_of,
    open_chunked,
    read_chunk_list,
    read_raw_list,
)
from snapkit_file_store.chunklist import RawList
from snapkit_file_store.index import SnapshotIndex
from snapkit_file_store.jsonlines import ContractLog
from snapkit_file_store.lease import FileLease, LeaseFile, live_lease, pid_alive
from snapkit_file_store.manifests import LoadedManifest, ManifestFiles
from snapkit_file_store.packs import PackIndex, read_index
from snapkit_file_store.parts import (
    check_range,
    hash_part_file,
    open_part_file,
    part_file_blocks,
    part_file_ranges,
)
from snapkit_file_store.paths import Layout, check_part_hash, host_tag
from snapkit_file_store.pointer import StatKey, read_pointer_file, stat_key, write_pointer_file
from snapkit_file_store.transaction import FileTransaction

log = logging.getLogger(__name__)

DEFAULT_COMPRESSION_LEVEL = 3
DEFAULT_MUTEX_TIMEOUT = 60.0
DEFAULT_TEMP_GRACE = 3600.0
_KEPT_CHUNKS = 1_000_000
"""Chunks of resolved chunk lists a store handle keeps (about 40 bytes each)."""
_RECENT_NS = 200_000_000
"""A pointer file changed this recently is re-read instead of trusting its stat alone."""


class FileStore:
    """A snapshot store in a local directory (docs/stores.md).

    :param path: the store's directory. If it does not exist, the store reads as empty and
        the first write creates it with mode ``0700``; opening and reading create nothing.
    :param compression_level: zstd level for parts (1-22).
    :param mutex_timeout: seconds to wait for the short inter-process mutex before failing.
    :param temp_grace: seconds after which temp leftovers of a live host process are removed
        on open when no live lease holds them (leftovers of dead processes go at once).
    :param chunk_size: plain bytes a chunk of a chunked part averages; the default,
        :data:`snapkit.chunking.CHUNK_TARGET`, is the measured choice (docs/snapshots.md);
        ``0`` stores every part whole (both formats are read either way).
    """

    key = "file"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        mutex_timeout: float = DEFAULT_MUTEX_TIMEOUT,
        temp_grace: float = DEFAULT_TEMP_GRACE,
        chunk_size: int = CHUNK_TARGET,
    ) -> None:
        self.layout = Layout(Path(path).expanduser().absolute())
        self.compression_level = compression_level
        if chunk_size and chunk_size < MIN_CHUNK_TARGET:
            raise StoreError(
                f"chunk size {chunk_size} is too small",
                hint=f"use 0 (whole parts) or {MIN_CHUNK_TARGET} bytes or more",
            )
        self.chunk_size = chunk_size
        self._mutex_timeout = mutex_timeout
        self._temp_grace = temp_grace
        self.manifest_files = ManifestFiles(self.layout)
        self.snapshot_index = SnapshotIndex(self.layout)
        self.history_log: ContractLog[HistoryEntry] = ContractLog(self.layout.history, HistoryEntry)
        self._lease_file = LeaseFile(self.layout, mutex_timeout)
        self._current: tuple[StatKey, Pointer, SnapshotManifest] | None = None
        self._recovered_unreported = False
        self.last_recovery: str | None = None
        """What the last pointer recovery by this handle did, for reports."""
        self._index_checked = False
        self._lists: OrderedDict[str, tuple[StatKey, ChunkList]] = OrderedDict()
        self._lists_lock = threading.Lock()
        self._indexes: OrderedDict[tuple[str, str], PackIndex] = OrderedDict()
        if self.layout.root.exists() and not self.layout.root.is_dir():
            raise StoreError(
                f"the file store path {self.layout.root} is not a directory",
                hint="point [store] path at a directory, or at a path that does not exist yet",
            )
        self._clean_temp()

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> FileStore:
        """Build a store from validated settings (see :data:`snapkit_file_store.plugin.SCHEMA`)."""
        return cls(
            settings["path"],
            compression_level=int(settings.get("compression_level", DEFAULT_COMPRESSION_LEVEL)),
            mutex_timeout=float(settings.get("lock_timeout", DEFAULT_MUTEX_TIMEOUT)),
            temp_grace=float(settings.get("temp_grace", DEFAULT_TEMP_GRACE)),
            chunk_size=int(settings.get("chunk_size", CHUNK_TARGET)),
        )

    def __repr__(self) -> str:
        return f"FileStore({str(self.layout.root)!r})"

    # -- where the store is, and creating it --------------------------------------------------

    @property
    def location(self) -> str:
        """The store's absolute directory, for messages (:class:`snapkit.store.StoreLocation`)."""
        return str(self.layout.root)

    def exists(self) -> bool:
        """Whether the store's directory exists (``False`` until the first write creates it)."""
        return self.layout.root.is_dir()

    def _create(self) -> None:
        """Create the store's directories that are missing (mode ``0700``, parents fsynced).

        Every write calls it first; reads never do.
        """
        for directory in (
            self.layout.root,
            self.layout.parts,
            self.layout.snapshots,
            self.layout.tmp,
        ):
            make_dir(directory)

    def checked_index(self, *, locked: bool = False) -> SnapshotIndex:
        """The listing index, checked against the manifests on first use by this handle.

        :param locked: the caller holds the meta mutex already.
        """
        if not self._index_checked and self.index_out_of_step():
            if locked:
                self.rebuild_index()
            else:
                with self.meta_mutex():
                    if self.index_out_of_step():
                        self.rebuild_index()
        self._index_checked = True
        return self.snapshot_index

    def _clean_temp(self) -> None:
        """Remove temp leftovers whose maker is dead, or old ones no live lease holds."""
        lease = live_lease(self._lease_file, self._temp_grace)
        me = host_tag()
        now = time.time()
        try:
            entries = list(os.scandir(self.layout.tmp))
        except FileNotFoundError:
            return
        for entry in entries:
            fields = entry.name.split("-")
            dead = (
                len(fields) >= 4
                and fields[1] == me
                and fields[2].isdigit()
                and not pid_alive(int(fields[2]))
            )
            try:
                age = now - entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue
            if dead or (lease is None and age > self._temp_grace):
                log.info("removing temp leftover %s from an earlier run", entry.name)
                remove_quietly(Path(entry.path))

    def index_out_of_step(self) -> bool:
        """Whether the index is damaged, unchecked, or disagrees with the manifests on disk.

        A manifest missing from the index counts only if it loads (a damaged manifest is
        never listed, so it does not make every reader rebuild the index).
        """
        if self.snapshot_index.damaged or self.snapshot_index.unchecked:
            return True
        indexed = self.snapshot_index.ids()
        on_disk = set(self.layout.manifest_ids())
        if indexed - on_disk:
            return True
        for snapshot_id in on_disk - indexed:
            try:
                self.manifest_files.load(snapshot_id)
            except (CorruptSnapshotError, SnapshotNotFoundError):
                continue
            return True
        return False

    def rebuild_index(self) -> None:
        """Rewrite the index from the manifests on disk (call under the meta mutex)."""
        upgrade = not self.snapshot_index.damaged and self.snapshot_index.unchecked
        infos: list[SnapshotInfo] = []
        for snapshot_id in self.layout.manifest_ids():
            try:
                loaded = self.manifest_files.load(snapshot_id)
            except (CorruptSnapshotError, SnapshotNotFoundError):
                continue
            infos.append(info_of(loaded.manifest, loaded.size))
        infos.sort(key=lambda info: (parse_time(info.created_at), info.id))
        self.snapshot_index.rewrite(infos)
        log.log(
            logging.INFO if upgrade else logging.WARNING,
            "rebuilt the listing index of %s from %d manifests",
            self.layout.root,
            len(infos),
        )

    @contextmanager
    def meta_mutex(self) -> Iterator[None]:
        """The short inter-process mutex around store writes (creates the store if missing)."""
        self._create()  # filelock would create a missing directory itself, with the umask's mode
        lock = filelock.FileLock(self.layout.meta_lock, timeout=self._mutex_timeout, mode=FILE_MODE)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise StoreError(
                f"could not take the store mutex {self.layout.meta_lock} within "
                f"{self._mutex_timeout:g} s",
                hint="another process is stuck inside a store write; check for hung processes",
            ) from None
        try:
            yield
        finally:
            lock.release()

    # -- writing -----------------------------------------------------------------------------

    def begin(self) -> FileTransaction:
        """Start a transaction for one refresh (creates the store if it does not exist yet)."""
        self._create()
        return FileTransaction(self)

    def commit_staged(
        self,
        staging: Path,
        manifest: SnapshotManifest,
        *,
        move_pointer: bool,
        expected_generation: int | None,
    ) -> CommitResult:
        moving = move_pointer and manifest.status != "failed"
        checked = {} if manifest.status == "failed" else self._check_stored_parts(staging, manifest)
        with self.meta_mutex():
            if manifest.status != "failed":
                self._install_parts(staging, manifest, checked)
            loaded, written = self.manifest_files.install(manifest)
            if written or loaded.manifest.id not in self.snapshot_index.ids():
                self.snapshot_index.append(info_of(loaded.manifest, loaded.size))
            snapshot_id = loaded.manifest.id
            if not moving:
                event: Literal["refresh_failed", "snapshot_recorded"] = (
                    "refresh_failed" if manifest.status == "failed" else "snapshot_recorded"
                )
                self.history_log.append(
                    HistoryEntry(
                        at=utc_now(),
                        event=event,
                        snapshot_id=snapshot_id,
                        status=manifest.status,
                        errors=manifest.errors,
                    )
                )
                return CommitResult(snapshot_id=snapshot_id, pointer=None)
            try:
                pointer = self._swap_pointer(loaded, expected_generation)
            except PointerConflictError:
                self.history_log.append(
                    HistoryEntry(
                        at=utc_now(),
                        event="snapshot_recorded",
                        snapshot_id=snapshot_id,
                        status=manifest.status,
                    )
                )
                raise
            self.history_log.append(
                HistoryEntry(
                    at=pointer.updated_at,
                    event="pointer_moved",
                    snapshot_id=snapshot_id,
                    status=manifest.status,
                    generation=pointer.generation,
                    errors=manifest.errors,
                )
            )
        log.info("snapshot %s is now current (generation %d)", snapshot_id, pointer.generation)
        return CommitResult(snapshot_id=snapshot_id, pointer=pointer)

    def _check_stored_parts(
        self, staging: Path, manifest: SnapshotManifest
    ) -> dict[str, tuple[StatKey, bool]]:
        """Whether each part the manifest references that is stored already verifies.

        Runs before the meta mutex is taken (re-hashing a large part takes a while); the
        result is keyed on the stored file's stat, and looked at again under the mutex only if
        the file changed meanwhile. A stored copy that is byte-identical to the part staged
        now verifies without hashing.
        """
        checked: dict[str, tuple[StatKey, bool]] = {}
        for ref in manifest.parts:
            target = self.layout.part(ref.sha256)
            key = _file_key(target)
            if key is not None:
                checked[ref.sha256] = (
                    key,
                    self._stored_part_ok(target, ref.sha256, staging / f"{ref.sha256}.zst"),
                )
        return checked

    def _stored_part_ok(self, target: Path, sha256: str, staged: Path) -> bool:
        """Whether the stored part verifies. A staged chunk list byte-identical to the stored
        one verifies without reading the chunks: its writer compared every chunk it
        references with the stored bytes (``ChunkedPartWriter``)."""
        try:
            if staged.exists() and filecmp.cmp(staged, target, shallow=False):
                return True
            digest, _size = self.hash_part(sha256)
        except (OSError, CorruptSnapshotError):
            return False
        return digest == sha256

    def hash_part(self, sha256: str) -> tuple[str, int]:
        """Re-hash a stored part (every chunk of a chunked one against its SHA-256, and the
        whole); return the SHA-256 and size of its plain bytes.

        :raises FileNotFoundError: if the part file is missing.
        :raises CorruptSnapshotError: if the part, its chunk list, a pack or a chunk is damaged.
        """
        path = self.layout.part(check_part_hash(sha256))
        listed = read_chunk_list(path, sha256, self.layout.pack)
        if listed is None:
            return hash_part_file(path)
        return hash_chunked(self.layout.pack, sha256, listed)

    def known_chunks(self) -> KnownChunks:
        """The chunks a new transaction may reference: those of the current snapshot and of
        the newest one recorded (a copy imports snapshots without moving the pointer)."""

        def load() -> KnownLists:
            names: dict[str, None] = {}
            for read in (self.latest_successful, self.latest):
                try:
                    manifest = read()
                except (CorruptSnapshotError, StoreError):
                    continue
                if manifest is not None and manifest.status != "failed":
                    names.update(dict.fromkeys(ref.sha256 for ref in manifest.parts))
            return known_chunks_of(self.layout.part, self.layout.pack, names, self._pack_index)

        return KnownChunks(load)

    def _install_parts(
        self, staging: Path, manifest: SnapshotManifest, checked: Mapping[str, tuple[StatKey, bool]]
    ) -> None:
        """Move the manifest's staged parts into ``parts/``; each is stored once.

        A part already stored is kept if it verifies; a stored copy that does not verify is
        replaced by the part staged now. A commit never references a stored part that does
        not verify: if the damaged part was not staged in this transaction, it refuses.
        """
        touched: set[Path] = set()
        lists: list[tuple[str, Path, Path]] = []
        packed: list[tuple[str, Path]] = []  # staged chunk lists whose packs to install
        for ref in manifest.parts:
            target = self.layout.part(ref.sha256)
            staged = staging / f"{ref.sha256}.zst"
            key = _file_key(target)
            if key is not None:
                before = checked.get(ref.sha256)
                ok = (
                    before[1]
                    if before is not None and before[0] == key
                    else self._stored_part_ok(target, ref.sha256, staged)
                )
                if ok:
                    if staged.exists() and filecmp.cmp(staged, target, shallow=False):
                        packed.append((ref.sha256, staged))  # its packs may be missing
                    continue
                if not staged.exists():
                    raise CorruptSnapshotError(
                        f"stored part {ref.name!r} ({ref.sha256}) does not verify and was not "
                        "written in this transaction: the snapshot would reference a damaged part",
                        hint="refresh to write the part again; run `snapkit snapshots verify`",
                    )
                log.warning(
                    "stored part %s (%r) did not verify; replacing it with the copy "
                    "this refresh wrote",
                    ref.sha256,
                    ref.name,
                )
            elif not staged.exists():
                raise StoreError(
                    f"snapshot part {ref.name!r} ({ref.sha256}) was not written in this "
                    "transaction and is not in the store",
                    hint="write every part through txn.part_writer() before commit",
                )
            lists.append((ref.sha256, staged, target))
            packed.append((ref.sha256, staged))
        for sha256, staged in packed:  # packs first: a list never names a missing pack
            raw = read_raw_list(staged, sha256)
            for pack in sorted({name for name, _index in raw.packs}) if raw is not None else ():
                pack_target = self.layout.pack(pack)
                pack_staged = staging / f"{pack}.pack"
                if pack_staged.exists():
                    # a pack is named by its bytes: one stored already is replaced only if it
                    # is missing or differs (damaged), as when a refresh writes lost chunks again
                    if not pack_target.exists() or not filecmp.cmp(
                        pack_staged, pack_target, shallow=False
                    ):
                        make_dir(pack_target.parent)
                        os.replace(pack_staged, pack_target)
                        touched.add(pack_target.parent)
                elif not pack_target.exists():
                    raise StoreError(
                        f"pack {pack}, which part {sha256} reuses chunks of, was removed (a "
                        "prune ran during the refresh)",
                        hint="refresh again; nothing was recorded",
                    )
        for directory in touched:
            fsync_dir(directory)
        touched.clear()
        for _sha256, staged, target in lists:
            make_dir(target.parent)
            os.replace(staged, target)
            touched.add(target.parent)
        for directory in touched:
            fsync_dir(directory)

    def _swap_pointer(self, loaded: LoadedManifest, expected_generation: int | None) -> Pointer:
        """Compare-and-swap the pointer to ``loaded`` (call under the meta mutex)."""
        current = self.pointer_locked()
        generation = current.generation if current else 0
        if current is not None:
            self.heal_history_locked(current)
        if expected_generation is not None and expected_generation != generation:
            raise PointerConflictError(
                f"the current pointer is at generation {generation}, not {expected_generation}: "
                "another commit moved it since it was read",
                hint="the snapshot is recorded; re-read the pointer and refresh again if needed",
            )
        pointer = Pointer(
            snapshot_id=loaded.manifest.id,
            manifest_sha256=loaded.sha256,
            generation=generation + 1,
            updated_at=utc_now(),
        )
        try:
            write_pointer_file(self.layout, pointer)
        except OSError as exc:
            # The rename may or may not have happened: look before deciding.
            after = read_pointer_file(self.layout).pointer
            if (
                after is not None
                and after.snapshot_id == pointer.snapshot_id
                and after.generation == pointer.generation
            ):
                log.warning(
                    "pointer write reported %s but the pointer names the snapshot; "
                    "counting the commit as done",
                    type(exc).__name__,
                )
                return after
            raise StoreError(
                f"could not move the current pointer of {self.layout.root}: {exc}",
                hint="the snapshot is recorded; check disk space and permissions, then refresh",
            ) from exc
        return pointer

    # -- the pointer and its recovery --------------------------------------------------------

    def read_pointer(self) -> Pointer | None:
        """Return the current pointer, recovering a damaged or missing one; ``None`` if none."""
        read = read_pointer_file(self.layout)
        if read.pointer is not None:
            return read.pointer
        if read.damage is None and not self.pointer_expected():
            return None
        with self.meta_mutex():
            return self.pointer_locked()

    def _target_of(
        self, pointer: Pointer, *, reload: bool = False
    ) -> tuple[LoadedManifest | None, str | None]:
        """The manifest the pointer names, or ``None`` and why it cannot be served."""
        what = f"it names snapshot {pointer.snapshot_id}"
        if reload:
            self.manifest_files.forget(pointer.snapshot_id)
        try:
            loaded = self.manifest_files.load(pointer.snapshot_id)
        except SnapshotNotFoundError:
            return None, f"{what}, whose manifest is missing"
        except CorruptSnapshotError:
            return None, f"{what}, whose manifest is damaged"
        if loaded.sha256 != pointer.manifest_sha256:
            return None, f"{what} with a manifest hash that does not match the stored manifest"
        if loaded.manifest.status == "failed":
            return None, f"{what}, a failed snapshot"
        return loaded, None

    def heal_history_locked(self, pointer: Pointer) -> int:
        """Add the pointer's move to the history if a crash left it out (under the mutex).

        A crash between the pointer's write and the history's append loses exactly that move;
        it is added (with the pointer's own time) before anything else is appended, so the
        history keeps every move in order. A pointer whose manifest cannot be served is not
        such a move and is not added. Returns the generation of the history's last move
        before this call.
        """
        moves = [e.generation or 0 for e in self.history_log.items() if e.event == "pointer_moved"]
        last = max(moves, default=0)
        if pointer.generation > last:
            loaded, _problem = self._target_of(pointer)
            if loaded is None:
                return last  # not a move that happened: the pointer is damaged (recovered)
            self.history_log.append(
                HistoryEntry(
                    at=pointer.updated_at,
                    event="pointer_moved",
                    snapshot_id=pointer.snapshot_id,
                    status=loaded.manifest.status,
                    generation=pointer.generation,
                )
            )
            log.warning(
                "history of %s lacked the pointer move to generation %d; added it",
                self.layout.root,
                pointer.generation,
            )
        return last

    def pointer_expected(self) -> bool:
        return any(entry.event == "pointer_moved" for entry in self.history_log.items())

    def pointer_locked(self) -> Pointer | None:
        """Read the pointer under the meta mutex, recovering it if damaged or lost."""
        read = read_pointer_file(self.layout)
        if read.pointer is not None:
            return read.pointer
        if read.damage is None and not self.pointer_expected():
            return None
        reason = read.damage or "the pointer file is missing although the history moved it"
        return self.recover_locked(reason)

    def recover_locked(self, reason: str, *, keep_if_none: bool = False) -> Pointer | None:
        """Point at the pointer's rightful target; record and log the recovery.

        The rightful target is the snapshot of the last pointer move in the history whose
        manifest and parts verify, else (no such move) the newest verified good snapshot.
        With none, the pointer file is removed (the store has no current snapshot until the
        next refresh), unless ``keep_if_none``: then it is left as it is and ``None`` is
        returned (a well-formed pointer whose target is damaged keeps naming it, so reads
        fail loudly until a refresh writes it again).
        """
        entries = self.history_log.items()
        candidates: list[str] = []
        for entry in reversed(entries):
            if entry.event == "pointer_moved" and entry.snapshot_id not in candidates:
                candidates.append(entry.snapshot_id)
        for info in self.checked_index(locked=True).newest_first():
            if info.status == "success" and info.id not in candidates:
                candidates.append(info.id)
        last_generation = max((e.generation or 0 for e in entries), default=0)
        for snapshot_id in candidates:
            loaded = self._verified(snapshot_id)
            if loaded is None:
                continue
            pointer = Pointer(
                snapshot_id=snapshot_id,
                manifest_sha256=loaded.sha256,
                generation=last_generation + 1,
                updated_at=utc_now(),
            )
            write_pointer_file(self.layout, pointer)
            self.history_log.append(
                HistoryEntry(
                    at=pointer.updated_at,
                    event="pointer_moved",
                    snapshot_id=snapshot_id,
                    status=loaded.manifest.status,
                    generation=pointer.generation,
                )
            )
            self._recovered_unreported = True
            self.last_recovery = (
                f"the current pointer was unusable ({reason}); recovered it "
                f"to snapshot {snapshot_id}, the last verified pointer target"
            )
            log.warning(
                "current pointer of %s was unusable (%s); recovered it to snapshot %s, "
                "the last verified pointer target",
                self.layout.root,
                reason,
                snapshot_id,
            )
            return pointer
        if keep_if_none:
            return None
        remove_quietly(self.layout.pointer)
        self._recovered_unreported = True
        self.last_recovery = (
            f"the current pointer was unusable ({reason}) and no verified "
            "snapshot is left; it was removed"
        )
        log.warning(
            "current pointer of %s was unusable (%s) and no verified snapshot is left; "
            "the store has no current snapshot until the next refresh",
            self.layout.root,
            reason,
        )
        return None

    def _verified(self, snapshot_id: str) -> LoadedManifest | None:
        """The manifest, if it and every part it references re-hash correctly and it is good."""
        try:
            self.manifest_files.forget(snapshot_id)
            loaded = self.manifest_files.load(snapshot_id)
        except (CorruptSnapshotError, SnapshotNotFoundError):
            return None
        if loaded.manifest.status == "failed":
            return None
        for ref in loaded.manifest.parts:
            try:
                digest, _size = self.hash_part(ref.sha256)
            except (OSError, CorruptSnapshotError):
                return None
            if digest != ref.sha256:
                return None
        return loaded

    def take_recovery_flag(self) -> bool:
        """Return whether this handle recovered the pointer since last asked, and reset it."""
        flag, self._recovered_unreported = self._recovered_unreported, False
        return flag

    # -- reading -----------------------------------------------------------------------------

    def latest_successful(self) -> SnapshotManifest | None:
        """Return the pointer's target (the last known good snapshot), or ``None``.

        Cached in memory, keyed on the pointer file's ``(mtime_ns, size, inode)``; a warm read
        costs one ``stat``.
        """
        key = stat_key(self.layout)
        cached = self._current
        if cached is not None and key == cached[0]:
            if time.time_ns() - key[0] > _RECENT_NS:
                return cached[2]
            read = read_pointer_file(self.layout)
            if read.pointer == cached[1]:
                return cached[2]
        pointer = self.read_pointer()
        if pointer is None:
            self._current = None
            return None
        loaded, problem = self._target_of(pointer)
        if loaded is None:
            with self.meta_mutex():  # look again as it is now, then recover if still bad
                pointer = self.pointer_locked()
                if pointer is not None:
                    loaded, problem = self._target_of(pointer, reload=True)
                    if loaded is None:
                        reason = problem or "its target cannot be read"
                        recovered = self.recover_locked(reason, keep_if_none=True)
                        if recovered is None:
                            raise CorruptSnapshotError(
                                f"the current pointer cannot be served: {reason}, and no "
                                "verified snapshot is left to recover to",
                                hint="run `snapkit snapshots verify`, then `snapkit refresh` "
                                "to write a good snapshot",
                            )
                        pointer = recovered
                        loaded = self._verified(pointer.snapshot_id)
            if pointer is None or loaded is None:
                self._current = None
                return None
        new_key = stat_key(self.layout)
        if new_key is not None:
            self._current = (new_key, pointer, loaded.manifest)
        return loaded.manifest

    def latest(self) -> SnapshotManifest | None:
        """Return the newest snapshot of any status, or ``None``."""
        newest = self.checked_index().newest_first()
        return self.get(newest[0].id) if newest else None

    def get(self, ref: str) -> SnapshotManifest:
        """Return the snapshot with this id or unique id prefix.

        :raises InvalidIdentifierError: if ``ref`` is not lowercase hex (e.g. ``../x``).
        :raises SnapshotNotFoundError, AmbiguousSnapshotIdError, CorruptSnapshotError:
        """
        return self.manifest_files.load(self.manifest_files.resolve(ref)).manifest

    def list(
        self, filters: ListFilter | None = None, limit: int | None = None
    ) -> list[SnapshotInfo]:
        """Return snapshot metadata, newest first, filtered and limited.

        ``became_current`` comes from the history: whether any pointer move named the snapshot.
        """
        rows = self.checked_index().select(filters, limit)
        history = self.history_log.items()
        trail = pointer_trail(history, read_pointer_file(self.layout).pointer)
        ever = set(trail.ids).union(e.snapshot_id for e in history if e.event == "pointer_moved")
        unknown: bool | None = None if not trail.whole else False
        return [
            attrs.evolve(
                info,
                became_current=True
                if info.id in ever
                else (False if info.status == "failed" else unknown),
            )
            for info in rows
        ]

    def history(self) -> Sequence[HistoryEntry]:
        """Return the append-only history of pointer moves and runs, oldest first.

        Lines that are damaged (do not parse or match their check) are left out; ``verify``
        reports them and sets them aside.
        """
        return tuple(self.history_log.items())

    def as_of(self, when: _dt.datetime) -> SnapshotManifest | None:
        """Return the snapshot that was current at ``when`` (naive means UTC), or ``None``.

        :raises SnapshotNotFoundError: if that snapshot has since been pruned.
        """
        when = when if when.tzinfo else when.replace(tzinfo=_dt.UTC)
        target: str | None = None
        for entry in self.history_log.items():
            if entry.event != "pointer_moved":
                continue
            if parse_time(entry.at) > when:
                break
            target = entry.snapshot_id
        return None if target is None else self.get(target)

    def _missing(self, sha256: str) -> CorruptSnapshotError:
        return CorruptSnapshotError(
            f"part {sha256} is not in the store at {self.layout.root}",
            hint="run `snapkit snapshots verify`; the snapshot referencing it is damaged",
        )

    def _listed(self, sha256: str) -> tuple[Path, ChunkList | None]:
        """The part's file and, for a chunked part, its checked chunk list.

        Resolved lists are kept (up to :data:`_KEPT_CHUNKS` chunks in all), keyed on the list
        file's stat, so that range reads of one part (the search index's lookups) do not
        resolve its list each time; a list file replaced since (a repair) is read again.
        """
        path = self.layout.part(check_part_hash(sha256))
        key = _file_key(path)
        with self._lists_lock:
            kept = self._lists.get(sha256)
            if kept is not None and kept[0] == key:
                self._lists.move_to_end(sha256)
                return path, kept[1]
        try:
            listed = read_chunk_list(path, sha256, self.layout.pack, self._pack_index)
        except FileNotFoundError:
            raise self._missing(sha256) from None
        if listed is not None and key is not None:
            with self._lists_lock:
                self._lists[sha256] = (key, listed)
                while len(self._lists) > 1 and (
                    sum(len(held) for _key, held in self._lists.values()) > _KEPT_CHUNKS
                ):
                    self._lists.popitem(last=False)
        return path, listed

    def _raw_list(self, sha256: str) -> tuple[Path, RawList | None]:
        """The part's file and, for a chunked part, its checked chunk list as written (its
        runs, unresolved): what a read from start to end needs."""
        path = self.layout.part(check_part_hash(sha256))
        try:
            return path, read_raw_list(path, sha256)
        except FileNotFoundError:
            raise self._missing(sha256) from None

    def _chunked_blocks(
        self, sha256: str, raw: RawList, *, verify: bool
    ) -> Generator[bytes, None, None]:
        """A chunked part's blocks, start to end, with its packs' indexes read without their
        digests unless this handle keeps them already (memory: 12 bytes a chunk)."""
        indexes: dict[int, PackIndex] = {}

        def index_of(number: int) -> PackIndex:
            index = indexes.get(number)
            if index is None:
                name, index_sha = raw.packs[number]
                with self._lists_lock:
                    index = self._indexes.get((name, index_sha))
                if index is None:
                    index = read_index(self.layout.pack(name), name, index_sha, digests=False)
                indexes[number] = index
            return index

        return chunked_blocks(self.layout.pack, sha256, raw, index_of, verify=verify)

    def _pack_index(self, name: str, index_sha256: str) -> PackIndex:
        """A pack's checked index, kept (up to :data:`_KEPT_CHUNKS` entries in all): the lists
        of a month of snapshots of a table use the same few packs. Packs are immutable and
        named by their SHA-256, and the index by the digest its lists record, so a kept index
        is the one the file holds, or the file is gone (a prune) and reads fail as they should
        once the frames are read."""
        key = (name, index_sha256)
        with self._lists_lock:
            kept = self._indexes.get(key)
            if kept is not None:
                self._indexes.move_to_end(key)
                return kept
        index = read_index(self.layout.pack(name), name, index_sha256)
        with self._lists_lock:
            self._indexes[key] = index
            while len(self._indexes) > 1 and (
                sum(len(held) for held in self._indexes.values()) > _KEPT_CHUNKS
            ):
                self._indexes.popitem(last=False)
        return index

    @contextmanager
    def open_part(self, sha256: str) -> Iterator[BinaryIO]:
        """Open a stored part for streaming reads of its canonical JSON Lines bytes.

        :raises InvalidIdentifierError: if ``sha256`` is not 64 lowercase hex digits.
        :raises CorruptSnapshotError: if the part is missing, or (at its end) damaged.
        """
        path, raw = self._raw_list(sha256)
        try:
            if raw is not None:
                handle = open_chunked(self._chunked_blocks(sha256, raw, verify=True))
            else:
                handle = open_part_file(path, sha256)
        except FileNotFoundError:
            raise self._missing(sha256) from None
        try:
            yield handle
        finally:
            handle.close()

    def iter_part_lines(self, sha256: str) -> Iterator[bytes]:
        """Yield a part's lines (each a canonical JSON record ending in ``\\n``)."""
        with self.open_part(sha256) as handle:
            yield from handle

    def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Iterator[bytes]:
        """Yield a part's canonical JSON Lines bytes in blocks, as they are decompressed.

        Block boundaries fall anywhere, even inside a line; the blocks joined are the part.
        ``verify=True`` checks the SHA-256 at the end, as :meth:`open_part` does.
        ``verify=False`` skips it and relies on the zstd frames' content checksums (XXH64 of
        the plain bytes, checked by zstd at the end of each frame) and on the frames being
        complete (for a chunked part: its checked chunk list, each chunk's size and its
        frame's checksum): damage such as a flipped bit or a cut still raises, a part file
        swapped for another well-formed one does not (``verify`` and checked reads catch that).
        Scans such as ``snapkit search`` read this way.

        :raises InvalidIdentifierError: if ``sha256`` is not 64 lowercase hex digits.
        :raises CorruptSnapshotError: if the part is missing, or (at its end) damaged.
        """
        path, raw = self._raw_list(sha256)
        if raw is not None:
            yield from self._chunked_blocks(sha256, raw, verify=verify)
            return
        blocks = part_file_blocks(path, sha256, verify=verify)
        try:
            first = next(blocks, b"")
        except FileNotFoundError:
            raise self._missing(sha256) from None
        if not first:
            return
        yield first
        yield from blocks

    # -- chunks (snapkit.store.ChunkedPartReader) --------------------------------------------

    def part_chunks(self, sha256: str) -> ChunkTable | None:
        """Return the part's chunks in table order, or ``None`` if it is stored whole
        (written before chunking, by a store with ``chunk_size = 0``, or smaller than
        :data:`~snapkit_file_store.chunked.MIN_CHUNKS` chunk targets).

        :raises CorruptSnapshotError: if the part or its chunk list is missing or damaged.
        """
        _path, listed = self._listed(sha256)
        if listed is None:
            return None
        return ChunkTable(listed.digests, listed.rows, listed.sizes)

    def iter_chunks(
        self, sha256: str, positions: Iterable[int], *, verify: bool = True
    ) -> Generator[bytes, None, None]:
        """Yield the bytes of the part's chunks at ``positions`` (ascending indexes into
        :meth:`part_chunks`), each checked against its SHA-256 with ``verify`` (else by its
        pack frame's zstd checksum and its size).

        :raises CorruptSnapshotError: for a missing or damaged chunk list, pack or chunk, or
            a part stored whole.
        :raises ValueError: if positions are not ascending or out of range.
        """
        _path, listed = self._listed(sha256)
        if listed is None:
            raise CorruptSnapshotError(
                f"part {sha256} is stored whole, not as chunks",
                hint="read it with open_part; part_chunks returns None for such parts",
            )
        yield from iter_chunk_bytes(self.layout.pack, sha256, listed, positions, verify=verify)

    # -- importing (snapkit.store.SnapshotImporter) ------------------------------------------

    def import_snapshot(self, manifest: SnapshotManifest, open_part: PartOpener) -> bool:
        """Store a snapshot copied from another store unless it is here already (see
        :class:`snapkit.store.SnapshotImporter`); no history, the pointer untouched."""
        from snapkit_file_store.importer import import_snapshot

        return import_snapshot(self, manifest, open_part)

    def import_history(self, entries: Sequence[HistoryEntry], pointer: Pointer | None) -> int:
        """Append the entries after this store's history (a prefix of them) and set the
        pointer as ``pointer`` was (see :class:`snapkit.store.SnapshotImporter`)."""
        from snapkit_file_store.importer import import_history

        return import_history(self, entries, pointer)

    def read_part_ranges(
        self, sha256: str, ranges: Iterable[tuple[int, int]]
    ) -> Generator[bytes, None, None]:
        """Yield the part's plain bytes ``[offset, offset + length)`` for each range, in order
        (:class:`snapkit.store.PartRangeReader`): only the zstd frames holding the ranges are
        decompressed, each checked whole against the part's checked seek table and its zstd
        content checksum. Parts written before the seekable format are read from the start.

        :raises InvalidIdentifierError: if ``sha256`` is not 64 lowercase hex digits.
        :raises ValueError: if a range starts before the previous one or has a negative length.
        :raises CorruptSnapshotError: if the part is missing, or a frame, its header or its
            seek table is damaged or another part's.
        """
        path, listed = self._listed(sha256)
        if listed is not None:
            yield from chunked_ranges(self.layout.pack, sha256, listed, ranges, check_range)
            return
        pieces = part_file_ranges(path, sha256, ranges)
        try:
            first = next(pieces, None)
        except FileNotFoundError:
            raise self._missing(sha256) from None
        if first is None:
            return
        yield first
        yield from pieces

    # -- lease -------------------------------------------------------------------------------

    def lock(self, holder: str, stale_after: float) -> FileLease:
        """Take the refresh lease or raise :class:`snapkit.errors.LockHeldError`.

        Creates the store if it does not exist yet.
        """
        self._create()
        return FileLease.take(self._lease_file, holder, stale_after)

    def lock_info(self) -> LockInfo | None:
        """Return who holds the refresh lease, or ``None``."""
        current = self._lease_file.read()
        return current[0] if current else None

    # -- maintenance -------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Re-hash every manifest and part; check and if needed recover the pointer."""
        from snapkit_file_store.verify import verify_store

        return verify_store(self)

    def prune(
        self, policy: RetentionPolicy, *, dry_run: bool = False, now: _dt.datetime | None = None
    ) -> PruneReport:
        """Apply a retention policy; with ``dry_run`` only say what would happen and why."""
        from snapkit_file_store.prune import prune_store

        return prune_store(self, policy, dry_run=dry_run, now=now or _dt.datetime.now(_dt.UTC))


def _file_key(path: Path) -> StatKey | None:
    """``(mtime_ns, size, inode)`` of a file, or ``None`` if it is missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
