"""``prune`` for the object store: apply :func:`snapkit.retention.decide`, then delete objects.

Prune takes the refresh lease for its run (so no refresh commits while parts are judged
unreferenced) and raises :class:`snapkit.errors.LockHeldError` when a refresh holds it.
Snapshots the decisions drop lose their manifest; parts no kept manifest references are
deleted, and so are packs no kept chunk list references (the chunk lists of the kept
snapshots' parts are read to know which packs they use). A pack is deleted only whole: one
that still holds a single live chunk stays, with its dead chunks (prune does not repack). A
pack left by a commit that died before its chunk list went up is referenced by nothing and is
deleted here. The history keeps every event. A store that does not exist has nothing to prune.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from snapkit.errors import CorruptSnapshotError, SnapshotNotFoundError, StoreError
from snapkit.retention import decide
from snapkit.store import PruneReport, RetentionPolicy

if TYPE_CHECKING:
    from snapkit_object_store.store import ObjectStore

log = logging.getLogger(__name__)

PRUNE_HOLDER = "snapkit prune"


def prune_store(
    store: ObjectStore, policy: RetentionPolicy, *, dry_run: bool, now: _dt.datetime
) -> PruneReport:
    """Decide what ``policy`` keeps in ``store`` and delete the rest (unless ``dry_run``)."""
    if not store.exists():
        return PruneReport(
            dry_run=dry_run,
            decisions=decide((), policy, None, now),
            removed_snapshots=0,
            removed_parts=0,
            freed_bytes=0,
        )
    lease = None if dry_run else store.lock(PRUNE_HOLDER, 3600.0)
    try:
        pointer = store.read_pointer()
        infos = store._infos()
        decisions = decide(infos, policy, pointer.snapshot_id if pointer else None, now)
        dropped = [d.snapshot_id for d in decisions if not d.keep]
        kept = [d.snapshot_id for d in decisions if d.keep]
        referenced: set[str] = set()
        for snapshot_id in kept:
            try:
                manifest = store._load(snapshot_id).manifest
            except SnapshotNotFoundError:
                continue
            except CorruptSnapshotError as exc:
                raise StoreError(
                    f"cannot prune: kept snapshot {snapshot_id} is damaged ({exc.message})",
                    hint="run `snapkit snapshots verify` first; prune never guesses what a "
                    "damaged snapshot references",
                ) from None
            referenced.update(ref.sha256 for ref in manifest.parts)
        sizes = {sid: int(item.get("Size", 0)) for sid, item in store._manifest_objects()}
        freed = sum(sizes.get(sid, 0) for sid in dropped)
        live_packs, packs_known = _live_packs(store, referenced)
        doomed_packs: list[str] = []
        if packs_known:
            for item in store._list(store.keys.packs, "listing packs"):
                stem = store.keys.stem(str(item["Key"]), store.keys.packs, ".pack")
                if stem is not None and stem not in live_packs:
                    doomed_packs.append(str(item["Key"]))
                    freed += int(item.get("Size", 0))
        doomed_parts: list[str] = []
        for item in store._list(store.keys.parts, "listing parts"):
            stem = store.keys.stem(str(item["Key"]), store.keys.parts, ".zst")
            if stem is not None and stem not in referenced:
                doomed_parts.append(str(item["Key"]))
                freed += int(item.get("Size", 0))
        if not dry_run:
            for snapshot_id in dropped:
                store._delete(store.keys.manifest(snapshot_id), "pruning a snapshot")
                store._forget(snapshot_id)
            for key in doomed_parts:
                store._delete(key, "pruning a part")
            for key in doomed_packs:  # after the lists that named them
                store._delete(key, "pruning a pack")
            log.info(
                "pruned %d snapshot(s), %d part(s) and %d pack(s) from %s",
                len(dropped),
                len(doomed_parts),
                len(doomed_packs),
                store.location,
            )
    finally:
        if lease is not None:
            lease.release()
    return PruneReport(
        dry_run=dry_run,
        decisions=decisions,
        removed_snapshots=len(dropped),
        removed_parts=len(doomed_parts),
        freed_bytes=freed,
    )


def _live_packs(store: ObjectStore, parts: Iterable[str]) -> tuple[set[str], bool]:
    """The packs the chunk lists of ``parts`` reference, and whether all of them could be
    read (a damaged list hides which packs it needs: then no pack is deleted)."""

    def packs_of(sha: str) -> set[str] | None:
        try:
            raw = store._raw_list(sha)
        except CorruptSnapshotError as exc:
            if "is not in the store" in exc.message:
                return set()
            log.warning("chunk list of part %s is damaged: no pack is pruned this time", sha)
            return None
        return {ref.name for ref in raw.packs} if raw is not None else set()

    live: set[str] = set()
    known = True
    for found in store._map(packs_of, sorted(parts)):
        if found is None:
            known = False
        else:
            live |= found
    return live, known
