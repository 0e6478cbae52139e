"""A commit to the object store, and the transaction that stages its parts.

:func:`commit_staged`: upload the staged parts the manifest references, each only if absent
(a damaged stored copy is replaced by the copy staged now; a damaged one not staged here makes
the commit refuse), write the manifest only if absent, then move the pointer: read it with its
ETag, add its own move to the history if a crash left it out, and write the new pointer with
``If-Match`` on that ETag (``If-None-Match: *`` for the first). A 412 is another commit's win
(:class:`PointerConflictError`), unless the pointer now is exactly the one this commit wrote
(a retry of a write that landed). A write whose answer was lost is settled by reading the
pointer again. Then the history event.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from contextlib import suppress
from functools import partial
from typing import TYPE_CHECKING, Literal

from snapkit import convert
from snapkit.canonical import sha256_hex
from snapkit.contracts import HistoryEntry, Pointer, SnapshotManifest, utc_now
from snapkit.errors import CorruptSnapshotError, PointerConflictError, StoreError
from snapkit.store import CommitResult
from snapkit_object_store.chunked import ChunkedPartWriter
from snapkit_object_store.client import ConditionFailed
from snapkit_object_store.keys import micros
from snapkit_object_store.packs import StagedPack
from snapkit_object_store.parts import SpooledPart
from snapkit_object_store.records import (
    CommitOutcomeUnknown,
    LoadedManifest,
    after,
    check_manifest_bytes,
)

if TYPE_CHECKING:
    from snapkit_object_store.store import ObjectStore

log = logging.getLogger(__name__)

MULTIPART_THRESHOLD = 16 << 20
"""Compressed parts at least this large are uploaded in several pieces."""
MULTIPART_CHUNK = 8 << 20


def commit_staged(
    store: ObjectStore,
    staged: Mapping[str, Staged],
    manifest: SnapshotManifest,
    *,
    move_pointer: bool,
    expected_generation: int | None,
) -> CommitResult:
    """Record ``manifest`` with its staged parts and move the pointer if asked (see the
    module docstring). Called by :class:`ObjectTransaction`."""
    failed = manifest.status == "failed"
    moving = move_pointer and not failed
    if not failed:
        _install_parts(store, staged, manifest)
    loaded = _install_manifest(store, manifest)
    snapshot_id = manifest.id
    if not moving:
        event: Literal["refresh_failed", "snapshot_recorded"] = (
            "refresh_failed" if failed else "snapshot_recorded"
        )
        store._append(
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
        pointer = _swap_pointer(store, loaded, expected_generation)
    except PointerConflictError:
        store._append(
            HistoryEntry(
                at=utc_now(),
                event="snapshot_recorded",
                snapshot_id=snapshot_id,
                status=manifest.status,
            )
        )
        raise
    store._append(
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


Staged = SpooledPart | ChunkedPartWriter
"""A staged part: spooled whole, or as chunks (a chunk list and a pack)."""


def _install_parts(
    store: ObjectStore, staged: Mapping[str, Staged], manifest: SnapshotManifest
) -> None:
    """Upload the manifest's staged parts if absent; check the stored ones it reuses.

    A chunked part's packs go up before its chunk list, so a list never names a missing
    pack (a crash between them leaves an orphan pack, which ``prune`` removes). A stored copy
    that does not verify is replaced by the copy staged now; without one the commit refuses
    (the pointer never names a part that does not verify).
    """
    for sha in dict.fromkeys(ref.sha256 for ref in manifest.parts):
        ref = next(r for r in manifest.parts if r.sha256 == sha)
        part = staged.get(sha)
        key = store.keys.part(sha)
        if isinstance(part, ChunkedPartWriter) and part.whole is None:
            _install_chunked(store, part, ref.name)
            continue
        whole = part.whole if isinstance(part, ChunkedPartWriter) else part
        if whole is not None:
            if _put_if_absent(store, key, whole.md5, partial(_upload, store, key, whole)):
                continue
            if store._stored_part_ok(sha):
                continue
            log.warning(
                "stored part %s (%r) did not verify; replacing it with the copy this refresh wrote",
                sha,
                ref.name,
            )
            _upload(store, key, whole)
            continue
        if not store._stored_part_ok(sha):
            exists = store._head(key) is not None
            raise StoreError(
                f"snapshot part {ref.name!r} ({sha}) "
                + (
                    "is stored damaged and was not written in this transaction"
                    if exists
                    else "was not written in this transaction and is not in the store"
                ),
                hint="the pointer did not move; refresh again so the part is written anew "
                "(`snapkit snapshots verify` lists the damage)",
            )


def _put_if_absent(store: ObjectStore, key: str, md5: str, put: Callable[..., object]) -> bool:
    """Write an object only if absent (``put(IfNoneMatch="*")``); ``True`` when it was
    written now or the stored copy is byte-identical (its ETag is the staged bytes' MD5)."""
    try:
        put(IfNoneMatch="*")
        return True
    except ConditionFailed:
        pass
    head = store._head(key)
    return head is not None and head.strip('"') == md5


def _install_chunked(store: ObjectStore, part: ChunkedPartWriter, name: str) -> None:
    """Upload a chunked part: its new pack, then its chunk list (each only if absent).

    A part stored already is kept when it verifies (a byte-identical chunk list does without
    reading its chunks: its writer compared every chunk it references with the stored bytes);
    then no pack goes up. One that does not verify is replaced, its pack uploaded first.
    """
    sha = part.sha256
    body = part.list_body
    assert body is not None
    key = store.keys.part(sha)
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    stored = store._head(key)
    if stored is not None:
        if stored.strip('"') == md5:
            _install_packs(store, part, name)  # the list's packs are there, or go up again
            return
        if store._stored_part_ok(sha):
            return
        log.warning(
            "stored part %s (%r) did not verify; replacing it with the chunk list this "
            "refresh wrote",
            sha,
            name,
        )
        _install_packs(store, part, name)
        store._put(key, body, "replacing a damaged part")
        return
    _install_packs(store, part, name)
    if _put_if_absent(store, key, md5, partial(store._put, key, body, "writing a part")):
        return
    if not store._stored_part_ok(sha):  # another commit wrote it meanwhile, damaged
        store._put(key, body, "replacing a damaged part")


def _install_packs(store: ObjectStore, part: ChunkedPartWriter, name: str) -> None:
    """Upload the part's new pack if absent (replacing a stored copy that does not verify)
    and check that the stored packs it reuses are still there."""
    pack = part.pack
    if pack is not None:
        pack_key = store.keys.pack(pack.name)
        if not _put_if_absent(
            store, pack_key, pack.md5, partial(_upload, store, pack_key, pack)
        ) and not store._stored_pack_ok(pack.name):
            log.warning("stored pack %s did not verify; replacing it", pack.name)
            _upload(store, pack_key, pack)
    for ref in part.foreign:
        if store._head(store.keys.pack(ref.name)) is None:
            raise StoreError(
                f"pack {ref.name}, which part {name!r} ({part.sha256}) reuses chunks of, was "
                "removed (a prune ran during the refresh)",
                hint="refresh again; the pointer did not move",
            )


def _upload(store: ObjectStore, key: str, part: SpooledPart | StagedPack, **condition: str) -> None:
    """Upload a staged part or pack: one PutObject, or a multipart upload for a large one."""
    if part.stored_bytes < MULTIPART_THRESHOLD:
        part.file.seek(0)
        store._put(key, part.file.read(), "writing a part", **condition)
        return
    doing = "writing a large part"
    upload = store._call(doing, "create_multipart_upload", Bucket=store.target.bucket, Key=key)
    upload_id = upload["UploadId"]
    try:
        pieces = []
        for number, chunk in enumerate(part.chunks(MULTIPART_CHUNK), start=1):
            answer = store._call(
                doing,
                "upload_part",
                Bucket=store.target.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=chunk,
            )
            pieces.append({"PartNumber": number, "ETag": answer["ETag"]})
        store._call(
            doing,
            "complete_multipart_upload",
            Bucket=store.target.bucket,
            Key=key,
            UploadId=upload_id,
            MultipartUpload={"Parts": pieces},
            **condition,
        )
    except BaseException:
        with suppress(StoreError, KeyError, ConditionFailed):
            store._call(
                doing,
                "abort_multipart_upload",
                Bucket=store.target.bucket,
                Key=key,
                UploadId=upload_id,
            )
        raise


def _install_manifest(store: ObjectStore, manifest: SnapshotManifest) -> LoadedManifest:
    """Write the manifest unless a good copy is there (the first capture time stands)."""
    snapshot_id = manifest.id
    body = convert.dumps(manifest)
    key = store.keys.manifest(snapshot_id)
    try:
        store._put(key, body, "writing a manifest", IfNoneMatch="*")
        return LoadedManifest(manifest, sha256_hex(body), len(body))
    except ConditionFailed:
        pass
    found = store._get(key, "reading a manifest")
    if found is not None:
        try:
            stored = check_manifest_bytes(snapshot_id, found[0])
            return LoadedManifest(stored, sha256_hex(found[0]), len(found[0]))
        except CorruptSnapshotError:
            log.warning("stored manifest of %s is damaged; replacing it", snapshot_id)
    store._put(key, body, "replacing a damaged manifest")
    store._forget(snapshot_id)
    return LoadedManifest(manifest, sha256_hex(body), len(body))


def _swap_pointer(store: ObjectStore, loaded: LoadedManifest, expected: int | None) -> Pointer:
    """Compare-and-swap the pointer object on its ETag (read with its generation)."""
    snapshot_id = loaded.manifest.id
    while True:
        read = store._read_pointer_object()
        current = read.pointer
        if current is None and (read.damage is not None or store._moves_exist()):
            current = store._recover(
                read.damage or "the pointer object is missing although the history moved it"
            )
            read = store._read_pointer_object()
            current = read.pointer
        generation = current.generation if current else 0
        if current is not None:
            store._heal_history(current)
        if expected is not None and generation != expected:
            raise PointerConflictError(
                f"the current pointer is at generation {generation}, not {expected}: "
                "another commit moved it since it was read",
                hint="the snapshot is recorded; re-read the pointer and refresh again if needed",
            )
        now = utc_now()
        if current is not None and micros(now) <= micros(current.updated_at):
            now = after(current.updated_at)
        pointer = Pointer(
            snapshot_id=snapshot_id,
            manifest_sha256=loaded.sha256,
            generation=generation + 1,
            updated_at=now,
        )
        condition = {"IfMatch": read.etag} if read.etag else {"IfNoneMatch": "*"}
        try:
            store._write_pointer(pointer, condition)
        except ConditionFailed:
            if store._read_pointer_object().pointer == pointer:
                return pointer  # our write landed; a retry of it was refused
            if expected is None:
                continue
            raise PointerConflictError(
                f"the current pointer moved past generation {generation} while this "
                "commit wrote it",
                hint="the snapshot is recorded; re-read the pointer and refresh again if needed",
            ) from None
        except CommitOutcomeUnknown as exc:
            return _settle_unknown(store, pointer, exc)
        return pointer


def _settle_unknown(store: ObjectStore, pointer: Pointer, exc: CommitOutcomeUnknown) -> Pointer:
    """Decide a pointer write whose answer was lost, from the pointer as it is now."""
    log.warning(
        "the pointer write for snapshot %s got no answer (%s); reading the pointer again",
        pointer.snapshot_id,
        exc,
    )
    try:
        now = store._read_pointer_object().pointer
    except StoreError as again:
        raise StoreError(
            f"the commit of snapshot {pointer.snapshot_id} to {store.location} got no "
            f"answer ({exc}) and the store cannot be read now ({again.message})",
            hint="when the server is back, `snapkit snapshots current` shows whether it "
            "is current; refresh again if not",
        ) from None
    if now == pointer:
        log.warning(
            "the pointer names snapshot %s: counting the commit as done", pointer.snapshot_id
        )
        return pointer
    raise StoreError(
        f"the commit of snapshot {pointer.snapshot_id} to {store.location} did not move "
        f"the pointer (no answer: {exc})",
        hint="the snapshot is recorded; refresh again",
    ) from None


class ObjectTransaction:
    """Staged parts of one refresh (spooled locally), then exactly one commit or abort."""

    def __init__(self, store: ObjectStore) -> None:
        self._store = store
        self._parts: list[Staged] = []
        self._finished = False
        self._known = store.known_chunks()

    def part_writer(self) -> Staged:
        """Return a writer for a new part, staged until commit (as chunks when the store's
        ``chunk_size`` is set and the part is large enough)."""
        self._check_open()
        store = self._store
        part: Staged
        if store.chunk_size:
            part = ChunkedPartWriter(
                store.compression_level, self._known, store._fetch_range, target=store.chunk_size
            )
        else:
            part = SpooledPart(store.compression_level)
        self._parts.append(part)
        return part

    def commit(
        self, manifest: SnapshotManifest, *, move_pointer: bool, expected_generation: int | None
    ) -> CommitResult:
        """Upload the referenced staged parts, record the manifest, move the pointer if asked."""
        self._check_open()
        self._finished = True
        try:
            staged = {p.sha256: p for p in self._parts if p.closed and not p.discarded and p.sha256}
            return commit_staged(
                self._store,
                staged,
                manifest,
                move_pointer=move_pointer,
                expected_generation=expected_generation,
            )
        finally:
            for part in self._parts:
                part.discard()

    def abort(self) -> None:
        """Discard everything staged (nothing was uploaded). Safe to call more than once."""
        self._finished = True
        for part in self._parts:
            part.discard()

    def _check_open(self) -> None:
        if self._finished:
            raise StoreError(
                "this transaction was already committed or aborted", hint="call store.begin()"
            )

    def __enter__(self) -> ObjectTransaction:
        return self

    def __exit__(self, *exc: object) -> None:
        self.abort()
