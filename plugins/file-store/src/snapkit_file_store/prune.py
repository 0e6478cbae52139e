"""``prune`` for the file store: apply :func:`snapkit.retention.decide`, then remove files.

Runs under the store's meta mutex, so no commit installs parts or moves the pointer while parts
are being judged unreferenced. Snapshots the decisions drop lose their manifest; parts no kept
manifest references are removed, then packs no kept part's chunk list names (mark and sweep);
the listing index is rewritten without the dropped snapshots. A pack is removed whole or not at
all: chunks of dropped snapshots inside a pack that a kept part still uses stay on disk (the
store does not repack). If a kept part's chunk list cannot be read, no pack is removed.
The history is append-only and keeps every line. A store that does not exist yet has nothing to
prune: the report is empty and nothing is created.
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import TYPE_CHECKING

from snapkit.errors import (
    CorruptSnapshotError,
    InvalidIdentifierError,
    SnapshotNotFoundError,
    StoreError,
)
from snapkit.retention import decide
from snapkit.store import PruneReport, RetentionPolicy
from snapkit_file_store.atomic import fsync_dir
from snapkit_file_store.chunked import read_raw_list
from snapkit_file_store.paths import check_part_hash

if TYPE_CHECKING:
    from pathlib import Path

    from snapkit_file_store.internals import StoreInternals

log = logging.getLogger(__name__)


def prune_store(
    store: StoreInternals, policy: RetentionPolicy, *, dry_run: bool, now: _dt.datetime
) -> PruneReport:
    """Decide what ``policy`` keeps in ``store`` and remove the rest (unless ``dry_run``)."""
    layout = store.layout
    if not store.exists():
        return PruneReport(
            dry_run=dry_run,
            decisions=decide((), policy, None, now),
            removed_snapshots=0,
            removed_parts=0,
            freed_bytes=0,
        )
    with store.meta_mutex():
        if store.index_out_of_step():
            store.rebuild_index()
        pointer = store.pointer_locked()
        infos = store.checked_index(locked=True).newest_first()
        decisions = decide(infos, policy, pointer.snapshot_id if pointer else None, now)
        dropped = [d.snapshot_id for d in decisions if not d.keep]
        kept = [d.snapshot_id for d in decisions if d.keep]

        referenced: set[str] = set()
        for snapshot_id in kept:
            try:
                manifest = store.manifest_files.load(snapshot_id).manifest
            except SnapshotNotFoundError:
                continue
            except CorruptSnapshotError as exc:
                raise StoreError(
                    f"cannot prune: kept snapshot {snapshot_id} is damaged ({exc.message})",
                    hint="run `snapkit snapshots verify` first; prune never guesses what a "
                    "damaged snapshot references",
                ) from None
            referenced.update(ref.sha256 for ref in manifest.parts)

        freed = 0
        doomed_manifests: list[Path] = []
        for snapshot_id in dropped:
            path = layout.manifest(snapshot_id)
            freed += _size(path)
            doomed_manifests.append(path)
        doomed_parts: list[Path] = []
        for stem, path in layout.part_files():
            try:
                check_part_hash(stem)
            except InvalidIdentifierError:
                continue
            if stem not in referenced:
                freed += _size(path)
                doomed_parts.append(path)
        doomed_packs = _unreferenced_packs(store, referenced)
        freed += sum(_size(path) for path in doomed_packs)

        if not dry_run:
            for path in doomed_manifests:
                path.unlink(missing_ok=True)
            for snapshot_id in dropped:
                store.manifest_files.forget(snapshot_id)
            if doomed_manifests:
                fsync_dir(layout.snapshots)
                keep = set(kept)
                store.snapshot_index.rewrite(info for info in reversed(infos) if info.id in keep)
            for path in doomed_parts:
                path.unlink(missing_ok=True)
            for path in doomed_packs:  # after the lists that named them
                path.unlink(missing_ok=True)
            for directory in {path.parent for path in [*doomed_parts, *doomed_packs]}:
                fsync_dir(directory)
            log.info(
                "pruned %d snapshot(s), %d part(s) and %d pack(s) from %s",
                len(dropped),
                len(doomed_parts),
                len(doomed_packs),
                layout.root,
            )

    return PruneReport(
        dry_run=dry_run,
        decisions=decisions,
        removed_snapshots=len(dropped),
        removed_parts=len(doomed_parts),
        freed_bytes=freed,
    )


def _unreferenced_packs(store: StoreInternals, referenced: set[str]) -> list[Path]:
    """The packs no chunk list of a kept part names (none if a kept list cannot be read)."""
    layout = store.layout
    packs = layout.pack_files()
    if not packs:
        return []
    used: set[str] = set()
    for sha256 in referenced:
        try:
            raw = read_raw_list(layout.part(sha256), sha256)
        except FileNotFoundError:
            continue  # a missing part names nothing (verify reports it)
        except (OSError, CorruptSnapshotError) as exc:
            log.warning(
                "not removing packs from %s: the chunk list of kept part %s cannot be read (%s)",
                layout.root,
                sha256,
                exc,
            )
            return []
        if raw is not None:
            used.update(name for name, _index in raw.packs)
    doomed = []
    for stem, path in packs:
        try:
            check_part_hash(stem)
        except InvalidIdentifierError:
            continue
        if stem not in used and path == layout.pack(stem):
            doomed.append(path)
    return doomed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
