"""The object store: snapshots in S3-compatible storage, the pointer moved by compare-and-swap.

See :mod:`snapkit_object_store.keys` for the layout. Correctness rests on S3's conditional
writes, not on the lease: parts, manifests and history events are written only if absent
(``If-None-Match: *``); the pointer object is replaced with ``If-Match`` on the ETag read
together with its generation, so of two commits that read the same generation exactly one
moves it (the other gets HTTP 412 and :class:`PointerConflictError`).

Opening a store and reading it write nothing: a prefix without objects reads as an empty
store. The first write (a transaction, the lease) writes the ``snapkit-store.json`` marker.

Commits live in :mod:`snapkit_object_store.commit`, checked records in
:mod:`snapkit_object_store.records`; this module keeps the requests, reads, the pointer's
recovery, the lease and maintenance. A pointer write whose answer is lost (the connection
dropped after sending) is settled by reading the pointer again: it counts as done when the
pointer is the one the commit wrote.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO

import attrs

from snapkit import convert
from snapkit.canonical import sha256_hex
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
    AmbiguousSnapshotIdError,
    ContractError,
    CorruptSnapshotError,
    SnapshotNotFoundError,
    StoreError,
)
from snapkit.identifiers import check_id_prefix
from snapkit.store import (
    ChunkTable,
    ListFilter,
    LockInfo,
    PruneReport,
    RetentionPolicy,
    VerifyReport,
    info_of,
    pointer_trail,
)
from snapkit_object_store.chunked import (
    ChunkList,
    KnownChunks,
    chunked_blocks,
    chunked_ranges,
    decode_list,
    hash_chunked,
    iter_chunk_bytes,
    resolve,
)
from snapkit_object_store.chunklist import TAG as LIST_TAG
from snapkit_object_store.chunklist import RawList
from snapkit_object_store.client import (
    ConditionFailed,
    Target,
    error_code,
    is_condition_failed,
    is_missing,
    make_client,
    store_error,
)
from snapkit_object_store.keys import Keys
from snapkit_object_store.lease import ObjectLease, read_lease
from snapkit_object_store.packs import (
    FOOTER,
    check_pack,
    corrupt_pack,
    decode_index,
    read_footer,
)
from snapkit_object_store.parts import READ_CHUNK, PartDecoder, check_range, ranges_from_start
from snapkit_object_store.records import (
    _HEX,
    CommitOutcomeUnknown,
    LoadedManifest,
    PointerRead,
    check_manifest_bytes,
    check_part_hash,
    parse_pointer,
    select,
)

log = logging.getLogger(__name__)

DEFAULT_COMPRESSION_LEVEL = 3
_CACHE_SIZE = 256
_KEPT_CHUNKS = 1_000_000
"""Chunks of resolved chunk lists a store handle keeps (about 100 bytes each)."""
FETCH_THREADS = 8
"""Requests in flight at once when many objects are read (listings, verify)."""
_List = list


class ObjectStore:
    """A snapshot store in an S3 bucket under a key prefix (docs/stores.md).

    :param target: endpoint, bucket, prefix and region.
    :param client: a botocore S3 client (see :func:`snapkit_object_store.client.make_client`).
    :param compression_level: zstd level for parts (1-22).
    :param chunk_size: plain bytes a chunk of a chunked part averages
        (:data:`snapkit.chunking.CHUNK_TARGET`, the default, is the measured choice); ``0``
        stores every part whole. Parts smaller than :data:`snapkit.chunking.MIN_CHUNKS` chunk
        targets are stored whole either way; both kinds are always read.
    :raises StoreError: if ``chunk_size`` is neither 0 nor at least
        :data:`snapkit.chunking.MIN_CHUNK_TARGET`.
    """

    key = "s3"

    def __init__(
        self,
        target: Target,
        client: Any,
        *,
        compression_level: int = DEFAULT_COMPRESSION_LEVEL,
        chunk_size: int = CHUNK_TARGET,
    ) -> None:
        if chunk_size < 0 or 0 < chunk_size < MIN_CHUNK_TARGET:
            raise StoreError(
                f"chunk size {chunk_size} is too small for the s3 store at {target.location}",
                hint=f"set [store] chunk_size to {MIN_CHUNK_TARGET} or more ({CHUNK_TARGET}, "
                "the default, is the measured choice), or to 0 to store parts whole",
            )
        self.chunk_size = chunk_size
        self._lists: OrderedDict[str, tuple[str, ChunkList]] = OrderedDict()
        self.target = target
        self.client = client
        self.keys = Keys(target.prefix)
        self.compression_level = compression_level
        self._created = False
        self._cache: OrderedDict[str, tuple[str, LoadedManifest]] = OrderedDict()
        self._history_cache: dict[str, HistoryEntry | None] = {}
        self._lock = threading.Lock()
        self._current: tuple[Pointer, SnapshotManifest] | None = None
        self._recovered_unreported = False
        self.last_recovery: str | None = None

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> ObjectStore:
        """Build a store from validated settings (:data:`snapkit_object_store.plugin.SCHEMA`)."""
        prefix = str(settings.get("prefix", "")).strip("/")
        target = Target(
            endpoint_url=settings.get("endpoint_url"),
            bucket=settings["bucket"],
            prefix=f"{prefix}/" if prefix else "",
            region=str(settings.get("region", "us-east-1")),
        )
        client = make_client(
            target,
            access_key_id=settings.get("access_key_id"),
            secret_access_key=settings.get("secret_access_key"),
            connect_timeout=float(settings.get("connect_timeout", 5)),
        )
        return cls(
            target,
            client,
            compression_level=int(settings.get("compression_level", DEFAULT_COMPRESSION_LEVEL)),
            chunk_size=int(settings.get("chunk_size", CHUNK_TARGET)),
        )

    def __repr__(self) -> str:
        return f"ObjectStore({self.location!r})"

    # -- requests ------------------------------------------------------------------------------

    def _call(self, doing: str, method: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(**kwargs)
        except ClientError as exc:
            if is_condition_failed(exc):
                raise ConditionFailed(doing) from None
            if is_missing(exc):
                raise KeyError(kwargs.get("Key")) from None
            raise store_error(exc, self.target, doing) from None
        except BotoCoreError as exc:
            raise store_error(exc, self.target, doing) from None

    def _get(self, key: str, doing: str) -> tuple[bytes, str] | None:
        """An object's bytes and ETag, or ``None`` if it does not exist."""
        try:
            response = self._call(doing, "get_object", Bucket=self.target.bucket, Key=key)
        except KeyError:
            return None
        return response["Body"].read(), str(response["ETag"])

    def _put(self, key: str, body: bytes, doing: str, **condition: str) -> str:
        """Write an object (``IfNoneMatch``/``IfMatch`` as given); return its new ETag.

        :raises ConditionFailed: if the condition does not hold.
        """
        response = self._call(
            doing, "put_object", Bucket=self.target.bucket, Key=key, Body=body, **condition
        )
        return str(response["ETag"])

    def _delete(self, key: str, doing: str, **condition: str) -> None:
        with suppress(KeyError):
            self._call(doing, "delete_object", Bucket=self.target.bucket, Key=key, **condition)

    def _map(self, function: Callable[[Any], Any], items: Iterable[Any]) -> _List[Any]:
        """``[function(item) ...]`` with up to :data:`FETCH_THREADS` requests in flight (a
        store on a network is latency-bound; botocore clients are thread-safe)."""
        todo = list(items)
        if len(todo) < 2:
            return [function(item) for item in todo]
        with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, len(todo))) as pool:
            return list(pool.map(function, todo))

    def _list(self, prefix: str, doing: str) -> list[dict[str, Any]]:
        """Every object under ``prefix`` (key, ETag, size, last modified), in key order."""
        out: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            extra = {"ContinuationToken": token} if token else {}
            response = self._call(
                doing, "list_objects_v2", Bucket=self.target.bucket, Prefix=prefix, **extra
            )
            out.extend(response.get("Contents", ()))
            if not response.get("IsTruncated"):
                return out
            token = response.get("NextContinuationToken")

    # -- where the store is, and creating it --------------------------------------------------

    @property
    def location(self) -> str:
        """``s3://bucket/prefix`` at the endpoint (:class:`snapkit.store.StoreLocation`)."""
        return self.target.location

    def exists(self) -> bool:
        """Whether the store has been created (its marker object is there)."""
        if self._created:
            return True
        try:
            self._call(
                "looking for the store",
                "head_object",
                Bucket=self.target.bucket,
                Key=self.keys.marker,
            )
        except KeyError:
            return False
        self._created = True
        return True

    def _create(self) -> None:
        """Write the store's marker if missing (every write calls it first)."""
        if self._created:
            return
        marker = json.dumps({"store": "snapkit-object-store", "format": 1}).encode()
        with suppress(ConditionFailed):
            self._put(self.keys.marker, marker, "creating the store", IfNoneMatch="*")
        self._created = True

    # -- writing -----------------------------------------------------------------------------

    def begin(self) -> Any:
        """Start a transaction for one refresh (creates the store if it does not exist yet)."""
        self._create()
        from snapkit_object_store.commit import ObjectTransaction

        return ObjectTransaction(self)

    def _head(self, key: str) -> str | None:
        try:
            response = self._call(
                "checking a stored object", "head_object", Bucket=self.target.bucket, Key=key
            )
        except KeyError:
            return None
        return str(response["ETag"])

    def _stored_part_ok(self, sha: str) -> bool:
        try:
            digest, _size = self._hash_part(sha)
        except (CorruptSnapshotError, KeyError):
            return False
        return digest == sha

    def _append(self, entry: HistoryEntry) -> None:
        """Write one history event (only if absent: a pointer move's key is its own)."""
        with suppress(ConditionFailed):
            self._put(
                self.keys.history_entry(entry),
                convert.dumps(entry),
                "appending to the history",
                IfNoneMatch="*",
            )

    def _write_pointer(self, pointer: Pointer, condition: Mapping[str, str]) -> None:
        """The pointer's conditional write; a lost answer raises CommitOutcomeUnknown."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(
                Bucket=self.target.bucket,
                Key=self.keys.pointer,
                Body=convert.dumps(pointer),
                **condition,
            )
        except ClientError as exc:
            if is_condition_failed(exc):
                raise ConditionFailed("moving the pointer") from None
            raise store_error(exc, self.target, "moving the pointer") from None
        except BotoCoreError as exc:
            raise CommitOutcomeUnknown(f"{type(exc).__name__}") from exc

    def _heal_history(self, pointer: Pointer) -> None:
        """Add the pointer's move to the history if a crash left it out (idempotent).

        The move's key follows from the pointer, so one ``HeadObject`` tells whether it is
        there.
        """
        probe = HistoryEntry(
            at=pointer.updated_at,
            event="pointer_moved",
            snapshot_id=pointer.snapshot_id,
            status="success",
            generation=pointer.generation,
        )
        if self._head(self.keys.history_entry(probe)) is not None:
            return
        try:
            loaded = self._load(pointer.snapshot_id)
        except (SnapshotNotFoundError, CorruptSnapshotError):
            return
        if loaded.sha256 != pointer.manifest_sha256:
            return
        self._append(
            HistoryEntry(
                at=pointer.updated_at,
                event="pointer_moved",
                snapshot_id=pointer.snapshot_id,
                status=loaded.manifest.status,
                generation=pointer.generation,
            )
        )

    # -- the pointer and its recovery --------------------------------------------------------

    def _read_pointer_object(self) -> PointerRead:
        found = self._get(self.keys.pointer, "reading the current pointer")
        if found is None:
            return PointerRead(None, None, None)
        return parse_pointer(found[0], found[1])

    def _moves_exist(self) -> bool:
        return any(entry.event == "pointer_moved" for entry in self.history())

    def read_pointer(self) -> Pointer | None:
        """Return the current pointer, recovering a damaged or missing one; ``None`` if none."""
        read = self._read_pointer_object()
        if read.pointer is not None:
            return read.pointer
        if read.damage is None and not self._moves_exist():
            return None
        return self._recover(
            read.damage or "the pointer object is missing although the history moved it"
        )

    def _recover(self, reason: str, *, keep_if_none: bool = False) -> Pointer | None:
        """Point at the rightful target: the last history move whose snapshot verifies, else
        the newest verified good snapshot. Written with a compare-and-swap on the pointer
        object as it was read; if another process changed it meanwhile, that pointer stands.
        """
        before = self._get(self.keys.pointer, "reading the current pointer")
        entries = self.history()
        candidates: list[str] = []
        for entry in reversed(entries):
            if entry.event == "pointer_moved" and entry.snapshot_id not in candidates:
                candidates.append(entry.snapshot_id)
        for info in self._infos():
            if info.status == "success" and info.id not in candidates:
                candidates.append(info.id)
        last = max((e.generation or 0 for e in entries), default=0)
        if before is not None:
            was = parse_pointer(*before).pointer
            if was is not None:
                last = max(last, was.generation)
        condition = {"IfMatch": before[1]} if before else {"IfNoneMatch": "*"}
        for snapshot_id in candidates:
            loaded = self._verified(snapshot_id)
            if loaded is None:
                continue
            pointer = Pointer(
                snapshot_id=snapshot_id,
                manifest_sha256=loaded.sha256,
                generation=last + 1,
                updated_at=utc_now(),
            )
            try:
                self._write_pointer(pointer, condition)
            except (ConditionFailed, CommitOutcomeUnknown):
                return self._read_pointer_object().pointer
            self._append(
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
                "current pointer of %s was unusable (%s); recovered it to snapshot %s",
                self.location,
                reason,
                snapshot_id,
            )
            return pointer
        if keep_if_none:
            return None
        if before is not None:
            self._delete(self.keys.pointer, "removing an unusable pointer", IfMatch=before[1])
        self._recovered_unreported = True
        self.last_recovery = (
            f"the current pointer was unusable ({reason}) and no verified "
            "snapshot is left; it was removed"
        )
        log.warning(
            "current pointer of %s was unusable (%s) and no verified snapshot is left",
            self.location,
            reason,
        )
        return None

    def _verified(self, snapshot_id: str) -> LoadedManifest | None:
        """The manifest, if it and every part it references re-hash correctly and it is good."""
        self._forget(snapshot_id)
        try:
            loaded = self._load(snapshot_id)
        except (CorruptSnapshotError, SnapshotNotFoundError):
            return None
        if loaded.manifest.status == "failed":
            return None
        for ref in loaded.manifest.parts:
            if not self._stored_part_ok(ref.sha256):
                return None
        return loaded

    def take_recovery_flag(self) -> bool:
        """Return whether this handle recovered the pointer since last asked, and reset it."""
        flag, self._recovered_unreported = self._recovered_unreported, False
        return flag

    # -- reading -----------------------------------------------------------------------------

    def _forget(self, snapshot_id: str) -> None:
        with self._lock:
            self._cache.pop(snapshot_id, None)

    def _load(self, snapshot_id: str, etag: str | None = None) -> LoadedManifest:
        """Load and check the manifest of a full snapshot id (cached by its ETag when given).

        :raises SnapshotNotFoundError: if there is no such manifest.
        :raises CorruptSnapshotError: if it does not parse or does not hash to its id.
        """
        with self._lock:
            cached = self._cache.get(snapshot_id)
            if cached is not None and (etag is None or cached[0] == etag):
                self._cache.move_to_end(snapshot_id)
                return cached[1]
        found = self._get(self.keys.manifest(snapshot_id), "reading a manifest")
        if found is None:
            raise SnapshotNotFoundError(
                f"no snapshot {snapshot_id} in the store at {self.location}",
                hint="list snapshots with `snapkit snapshots list`",
            )
        body, found_etag = found
        loaded = LoadedManifest(
            check_manifest_bytes(snapshot_id, body), sha256_hex(body), len(body)
        )
        with self._lock:
            self._cache[snapshot_id] = (found_etag, loaded)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return loaded

    def _manifest_objects(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for item in self._list(self.keys.snapshots, "listing snapshots"):
            stem = self.keys.stem(item["Key"], self.keys.snapshots, ".json")
            if stem is not None and len(stem) == 64 and set(stem) <= _HEX:
                out.append((stem, item))
        return out

    def _infos(self) -> list[SnapshotInfo]:
        """Metadata of every manifest that loads, newest first."""

        def load(listed: tuple[str, dict[str, Any]]) -> SnapshotInfo | None:
            try:
                loaded = self._load(listed[0], str(listed[1]["ETag"]))
            except (CorruptSnapshotError, SnapshotNotFoundError):
                return None
            return info_of(loaded.manifest, loaded.size)

        infos = [info for info in self._map(load, self._manifest_objects()) if info is not None]
        infos.sort(key=lambda info: (parse_time(info.created_at), info.id), reverse=True)
        return infos

    def latest_successful(self) -> SnapshotManifest | None:
        """Return the pointer's target (the last known good snapshot), or ``None``.

        One ``GetObject`` of the pointer; its target's manifest is kept in memory.
        """
        pointer = self.read_pointer()
        if pointer is None:
            self._current = None
            return None
        cached = self._current
        if cached is not None and cached[0] == pointer:
            return cached[1]
        loaded = self._target(pointer)
        if loaded is None:
            recovered = self._recover("its target cannot be served", keep_if_none=True)
            if recovered is None:
                raise CorruptSnapshotError(
                    "the current pointer cannot be served and no verified snapshot is left "
                    "to recover to",
                    hint="run `snapkit snapshots verify`, then `snapkit refresh` to write a "
                    "good snapshot",
                )
            pointer = recovered
            loaded = self._verified(pointer.snapshot_id)
            if loaded is None:
                return None
        self._current = (pointer, loaded.manifest)
        return loaded.manifest

    def _target(self, pointer: Pointer) -> LoadedManifest | None:
        try:
            loaded = self._load(pointer.snapshot_id)
            if loaded.sha256 != pointer.manifest_sha256:
                self._forget(pointer.snapshot_id)
                loaded = self._load(pointer.snapshot_id)
        except (SnapshotNotFoundError, CorruptSnapshotError):
            return None
        if loaded.sha256 != pointer.manifest_sha256 or loaded.manifest.status == "failed":
            return None
        return loaded

    def latest(self) -> SnapshotManifest | None:
        """Return the newest snapshot of any status, or ``None``."""
        infos = self._infos()
        return self.get(infos[0].id) if infos else None

    def _resolve(self, ref: str) -> str:
        check_id_prefix(ref)
        matches = sorted(
            stem
            for item in self._list(f"{self.keys.snapshots}{ref}", "finding a snapshot")
            if (stem := self.keys.stem(item["Key"], self.keys.snapshots, ".json")) is not None
            and len(stem) == 64
            and set(stem) <= _HEX
        )
        if not matches:
            raise SnapshotNotFoundError(
                f"no snapshot matches {ref!r} in the store at {self.location}",
                hint="list snapshots with `snapkit snapshots list`",
            )
        if len(matches) > 1:
            shown = ", ".join(m[:12] for m in matches[:5])
            raise AmbiguousSnapshotIdError(
                f"snapshot id prefix {ref!r} matches {len(matches)} snapshots ({shown})",
                hint="give more digits of the id",
            )
        return matches[0]

    def get(self, ref: str) -> SnapshotManifest:
        """Return the snapshot with this id or unique id prefix."""
        if len(ref) == 64:
            check_id_prefix(ref)
            return self._load(ref).manifest
        return self._load(self._resolve(ref)).manifest

    def list(
        self, filters: ListFilter | None = None, limit: int | None = None
    ) -> list[SnapshotInfo]:
        """Return snapshot metadata, newest first, filtered and limited."""
        rows = select(self._infos(), filters, limit)
        history = self.history()
        trail = pointer_trail(history, self._read_pointer_object().pointer)
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

    def _history_objects(self) -> _List[tuple[str, HistoryEntry | None]]:
        """Every history object as ``(key, entry)`` in key order; damaged ones as ``None``."""
        keys = [str(item["Key"]) for item in self._list(self.keys.history, "reading the history")]
        with self._lock:
            missing = [key for key in keys if key not in self._history_cache]

        def fetch(key: str) -> None:
            found = self._get(key, "reading the history")
            if found is None:
                return
            try:
                entry: HistoryEntry | None = convert.parse(found[0], HistoryEntry)
            except ContractError:
                entry = None
            with self._lock:
                self._history_cache[key] = entry

        self._map(fetch, missing)
        with self._lock:
            return [(key, self._history_cache[key]) for key in keys if key in self._history_cache]

    def history(self) -> Sequence[HistoryEntry]:
        """Return the history of pointer moves and runs, oldest first (damaged ones left out)."""
        return tuple(entry for _key, entry in self._history_objects() if entry is not None)

    def as_of(self, when: _dt.datetime) -> SnapshotManifest | None:
        """Return the snapshot that was current at ``when`` (naive means UTC), or ``None``."""
        when = when if when.tzinfo else when.replace(tzinfo=_dt.UTC)
        target: str | None = None
        for entry in self.history():
            if entry.event != "pointer_moved":
                continue
            if parse_time(entry.at) > when:
                break
            target = entry.snapshot_id
        return None if target is None else self.get(target)

    def _part_object(self, sha256: str) -> _PartObject:
        """The stored part's object, opened: a chunk list (read and checked) or the streaming
        body of a whole part. One ``GetObject`` either way.

        :raises CorruptSnapshotError: if it is missing or its chunk list is damaged.
        """
        check_part_hash(sha256)
        try:
            response = self._call(
                "reading a part",
                "get_object",
                Bucket=self.target.bucket,
                Key=self.keys.part(sha256),
            )
        except KeyError:
            raise CorruptSnapshotError(
                f"part {sha256} is not in the store at {self.location}",
                hint="run `snapkit snapshots verify`; the snapshot referencing it is damaged",
            ) from None
        body = response["Body"]
        etag = str(response["ETag"])
        head = b""
        try:
            while len(head) < len(LIST_TAG):
                more = body.read(len(LIST_TAG) - len(head))
                if not more:
                    break
                head += more
            if head != LIST_TAG:
                return _PartObject(etag, None, head, body)
            data = head + body.read()
        finally:
            if head == LIST_TAG:
                body.close()
        return _PartObject(etag, decode_list(data, sha256), b"", None)

    def _resolved(self, sha256: str, found: _PartObject) -> ChunkList | None:
        """The resolved chunk list of a part's object (``None`` for a whole part, whose body
        is closed unread). Resolved lists are kept by the list object's ETag (up to
        :data:`_KEPT_CHUNKS` chunks in all), so reading chunks after ``part_chunks`` does not
        fetch the pack indexes again; a list object replaced since is resolved again."""
        if found.raw is None:
            found.close()
            return None
        with self._lock:
            kept = self._lists.get(sha256)
            if kept is not None and kept[0] == found.etag:
                self._lists.move_to_end(sha256)
                return kept[1]
        listed = resolve(found.raw, sha256, self._fetch_range, self._map)
        with self._lock:
            self._lists[sha256] = (found.etag, listed)
            while len(self._lists) > 1 and (
                sum(len(held) for _etag, held in self._lists.values()) > _KEPT_CHUNKS
            ):
                self._lists.popitem(last=False)
        return listed

    def _listed(self, sha256: str) -> ChunkList | None:
        """The part's checked, resolved chunk list, or ``None`` if it is stored whole."""
        return self._resolved(sha256, self._part_object(sha256))

    def _raw_list(self, sha256: str) -> RawList | None:
        """The part's checked chunk list as stored (packs and runs), or ``None`` if whole."""
        found = self._part_object(sha256)
        if found.raw is None:
            found.close()
        return found.raw

    def _fetch_range(self, pack: str, start: int, size: int) -> bytes:
        """``size`` bytes of pack object ``pack`` from ``start`` (one ranged ``GetObject``).

        :raises CorruptSnapshotError: if the pack is missing or shorter.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        doing = "reading a pack"
        try:
            response = self.client.get_object(
                Bucket=self.target.bucket,
                Key=self.keys.pack(pack),
                Range=f"bytes={start}-{start + size - 1}",
            )
            return bytes(response["Body"].read())
        except ClientError as exc:
            if is_missing(exc):
                raise corrupt_pack(pack, "is missing") from None
            if error_code(exc) in {"InvalidRange", "416"}:
                raise corrupt_pack(pack, "is truncated") from None
            raise store_error(exc, self.target, doing) from None
        except BotoCoreError as exc:
            raise store_error(exc, self.target, doing) from None

    def _check_pack(self, name: str, size: int | None = None) -> int:
        """Check a stored pack whole (see :func:`snapkit_object_store.packs.check_pack`):
        its footer and index by ranged reads, then its bytes as they stream in. Returns its
        chunk count.

        :raises CorruptSnapshotError: if it is missing or damaged.
        """
        key = self.keys.pack(name)
        if size is None:
            try:
                head = self._call(
                    "checking a pack", "head_object", Bucket=self.target.bucket, Key=key
                )
            except KeyError:
                raise corrupt_pack(name, "is missing") from None
            size = int(head["ContentLength"])
        if size < FOOTER.size:
            raise corrupt_pack(name, "is truncated (too short to hold its index)")
        start, length = read_footer(
            self._fetch_range(name, size - FOOTER.size, FOOTER.size), name, size
        )
        index = decode_index(self._fetch_range(name, start, length), name)
        try:
            response = self._call(
                "checking a pack", "get_object", Bucket=self.target.bucket, Key=key
            )
        except KeyError:
            raise corrupt_pack(name, "is missing") from None
        body = response["Body"]
        try:
            return check_pack(body.iter_chunks(READ_CHUNK), name, index, start)
        finally:
            body.close()

    def _stored_pack_ok(self, name: str) -> bool:
        try:
            self._check_pack(name)
        except CorruptSnapshotError:
            return False
        return True

    def known_chunks(self) -> KnownChunks:
        """The chunks a new transaction may reference: those of the current snapshot's
        chunked parts (loaded when its first chunked part needs them)."""

        def load() -> list[ChunkList]:
            try:
                manifest = self.latest_successful()
            except StoreError:
                return []
            if manifest is None:
                return []
            lists = []
            for name in dict.fromkeys(ref.sha256 for ref in manifest.parts):
                try:
                    listed = self._listed(name)
                except StoreError:
                    continue  # damaged or gone: its chunks are written again
                if listed is not None:
                    lists.append(listed)
            return lists

        return KnownChunks(load)

    def _hash_part(self, sha256: str) -> tuple[str, int]:
        """Re-hash a stored part (a chunked one chunk by chunk, and whole).

        :raises KeyError: if it is missing.
        :raises CorruptSnapshotError: if it (its list, a pack, a chunk) is damaged.
        """
        try:
            found = self._part_object(sha256)
        except CorruptSnapshotError as exc:
            if "is not in the store" in exc.message:
                raise KeyError(sha256) from None
            raise
        listed = self._resolved(sha256, found) if found.raw is not None else None
        if listed is not None:
            return hash_chunked(self._fetch_range, sha256, listed)
        return PartDecoder(found.chunks(), sha256, None).result()

    @contextmanager
    def open_part(self, sha256: str) -> Iterator[BinaryIO]:
        """Open a stored part for streaming reads of its canonical JSON Lines bytes."""
        blocks = self._blocks(sha256, verify=True)
        handle = io.BufferedReader(_BlocksIO(blocks), buffer_size=1 << 16)
        try:
            yield handle
        finally:
            handle.close()
            blocks.close()

    def iter_part_lines(self, sha256: str) -> Iterator[bytes]:
        """Yield a part's lines (each a canonical JSON record ending in ``\\n``)."""
        with self.open_part(sha256) as handle:
            yield from handle

    def iter_part_blocks(self, sha256: str, *, verify: bool = True) -> Iterator[bytes]:
        """Yield a part's bytes in blocks as they are decompressed (see PartBlockReader).

        ``verify=False`` relies on the zstd frames' content checksums and completeness (and,
        for a chunked part, its checked chunk list and each chunk's size).
        """
        yield from self._blocks(sha256, verify=verify)

    def _blocks(self, sha256: str, *, verify: bool) -> Generator[bytes, None, None]:
        """The part's blocks. Its object is opened and a chunk list resolved now (a missing
        part, a damaged list or pack index raises here), the frames read as blocks are taken."""
        found = self._part_object(sha256)
        if found.raw is not None:
            listed = self._resolved(sha256, found)
            assert listed is not None
            return chunked_blocks(self._fetch_range, sha256, listed, verify=verify)
        return _whole_blocks(PartDecoder(found.chunks(), sha256, sha256, verify=verify))

    def read_part_ranges(
        self, sha256: str, ranges: Iterable[tuple[int, int]]
    ) -> Generator[bytes, None, None]:
        """Yield the part's plain bytes ``[offset, offset + length)`` for each range, in order
        (:class:`snapkit.store.PartRangeReader`). A chunked part: only the frames holding the
        ranges are fetched (ranged ``GetObject``), each chunk read checked against its
        SHA-256. A whole part is read from its start (one zstd frame) to its end, checked
        against its SHA-256 there.

        :raises InvalidIdentifierError: if ``sha256`` is not 64 lowercase hex digits.
        :raises ValueError: if a range starts before the previous one or has a negative length.
        :raises CorruptSnapshotError: if the part is missing or damaged.
        """
        found = self._part_object(sha256)
        if found.raw is not None:
            listed = self._resolved(sha256, found)
            assert listed is not None
            yield from chunked_ranges(self._fetch_range, sha256, listed, ranges, check_range)
            return
        yield from ranges_from_start(PartDecoder(found.chunks(), sha256, sha256), ranges)

    # -- chunks (snapkit.store.ChunkedPartReader) --------------------------------------------

    def part_chunks(self, sha256: str) -> ChunkTable | None:
        """Return the part's chunks in table order, or ``None`` if it is stored whole (written
        before chunking or with ``chunk_size = 0``, or smaller than
        :data:`snapkit.chunking.MIN_CHUNKS` chunk targets). Costs one ``GetObject`` of the
        chunk list and one ranged ``GetObject`` of each pack's index (kept for later reads).

        :raises CorruptSnapshotError: if the part or its chunk list is missing or damaged.
        """
        listed = self._listed(sha256)
        if listed is None:
            return None
        return ChunkTable(bytes(listed.digests), listed.rows, listed.sizes)

    def iter_chunks(
        self, sha256: str, positions: Iterable[int], *, verify: bool = True
    ) -> Generator[bytes, None, None]:
        """Yield the bytes of the part's chunks at ``positions`` (ascending indexes into
        :meth:`part_chunks`), each checked against its SHA-256 with ``verify`` (else by its
        frame's zstd checksum and its size); one ranged ``GetObject`` per frame needed.

        :raises CorruptSnapshotError: for a missing or damaged chunk list, pack or chunk, or
            a part stored whole.
        :raises ValueError: if positions are not ascending or out of range.
        """
        listed = self._listed(sha256)
        if listed is None:
            raise CorruptSnapshotError(
                f"part {sha256} is stored whole, not as chunks",
                hint="read it with open_part; part_chunks returns None for such parts",
            )
        yield from iter_chunk_bytes(self._fetch_range, sha256, listed, positions, verify=verify)

    # -- lease -------------------------------------------------------------------------------

    def lock(self, holder: str, stale_after: float) -> ObjectLease:
        """Take the refresh lease or raise :class:`snapkit.errors.LockHeldError`."""
        self._create()
        return ObjectLease.take(self, holder, stale_after)

    def lock_info(self) -> LockInfo | None:
        """Return who holds the refresh lease, or ``None``."""
        current = read_lease(self)
        return current[0] if current else None

    # -- maintenance -------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Re-hash every manifest and part; check and if needed recover the pointer."""
        from snapkit_object_store.verify import verify_store

        return verify_store(self)

    def prune(
        self, policy: RetentionPolicy, *, dry_run: bool = False, now: _dt.datetime | None = None
    ) -> PruneReport:
        """Apply a retention policy; with ``dry_run`` only say what would happen and why."""
        from snapkit_object_store.prune import prune_store

        return prune_store(self, policy, dry_run=dry_run, now=now or _dt.datetime.now(_dt.UTC))


def _whole_blocks(decoder: PartDecoder) -> Generator[bytes, None, None]:
    while block := decoder.read_block():
        yield block


class _PartObject:
    """A part's object as opened by ``ObjectStore._part_object``: its ETag and either its
    checked chunk list (``raw``) or the first bytes and open body of a whole part."""

    def __init__(self, etag: str, raw: RawList | None, head: bytes, body: Any) -> None:
        self.etag = etag
        self.raw = raw
        self._head = head
        self._body = body

    def chunks(self) -> Iterator[bytes]:
        """The whole part's compressed bytes as they stream in (the body closed at the end)."""
        body = self._body
        head = self._head

        def stream() -> Iterator[bytes]:
            try:
                if body is None:
                    return
                pieces = body.iter_chunks(READ_CHUNK)
                first = head + next(pieces, b"")
                if first:
                    yield first
                yield from pieces
            finally:
                if body is not None:
                    body.close()

        return stream()

    def close(self) -> None:
        """Close the body unread."""
        if self._body is not None:
            self._body.close()


class _BlocksIO(io.RawIOBase):
    """Blocks from a generator as a raw stream (``open_part``); an error sticks."""

    def __init__(self, blocks: Iterator[bytes]) -> None:
        super().__init__()
        self._blocks = blocks
        self._pending = memoryview(b"")
        self._pos = 0
        self._error: BaseException | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._error is not None:
            raise self._error
        while self._pos >= len(self._pending):
            try:
                block = next(self._blocks, None)
            except CorruptSnapshotError as exc:
                self._error = exc
                raise
            if block is None:
                return 0
            self._pending, self._pos = memoryview(block), 0
        count = min(len(buffer), len(self._pending) - self._pos)
        buffer[:count] = self._pending[self._pos : self._pos + count]
        self._pos += count
        return count
