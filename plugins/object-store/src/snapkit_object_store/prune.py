"""``prune`` for the object store: apply :func:`snapkit.retention.decide`, then delete objects.

Prune takes the refresh lease for its run (so no refresh commits while parts are judged
unreferenced) and raises :class:`snapkit.errors.LockHeldError` when a refresh holds it.
Snapshots the decisions drop lose their manifest; parts no kept manifest references are
deleted. The history keeps every event. A store that does not exist has nothing to prune.
"""

from __future__ import annotations

import datetime as _dt
import logging
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
            log.info(
                "pruned %d snapshot(s) and %d part(s) from %s",
                len(dropped),
                len(doomed_parts),
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
