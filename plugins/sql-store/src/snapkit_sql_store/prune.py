"""``prune`` for the SQL store: apply :func:`snapkit.retention.decide`, then delete rows.

Everything happens in one exclusive transaction (no commit runs meanwhile, so no new reference
to a part appears while parts are judged unused): the snapshots the decisions drop lose their
manifest and their part references; parts no remaining snapshot references lose their row and
their blob; then chunks no chunked part's list names any more are deleted (chunks of open
uploads are left to their writers: a commit counts the chunks it names in its own
transaction). A dry run does the same work and rolls it back, so its report is exactly what a
real prune would do. The history is append-only and keeps every row. A store that does not
exist yet has nothing to prune: the report is empty and nothing is created.
"""

from __future__ import annotations

import datetime as _dt
import logging
from typing import TYPE_CHECKING

from snapkit.retention import decide
from snapkit.store import PruneReport, RetentionPolicy
from snapkit_sql_store.chunks import sweep_chunks

if TYPE_CHECKING:
    from snapkit_sql_store.store import SqlStore

log = logging.getLogger(__name__)


class _RollBack(Exception):
    def __init__(self, report: PruneReport) -> None:
        super().__init__("dry run")
        self.report = report


def prune_store(
    store: SqlStore, policy: RetentionPolicy, *, dry_run: bool, now: _dt.datetime
) -> PruneReport:
    """Decide what ``policy`` keeps in ``store`` and remove the rest (unless ``dry_run``)."""
    from snapkit_sql_store.rows import INFO_COLUMNS, info_row

    if not store.exists():
        return PruneReport(
            dry_run=dry_run,
            decisions=decide((), policy, None, now),
            removed_snapshots=0,
            removed_parts=0,
            freed_bytes=0,
        )
    store.read_pointer()  # recover a damaged pointer first: its target must be kept
    try:
        with store.backend.write(exclusive=True) as db:
            row = db.one("SELECT snapshot_id FROM {p}pointer WHERE id = 1")
            pointer_id = str(row[0]) if row else None
            infos = [info_row(r) for r in db.all(f"SELECT {INFO_COLUMNS} FROM {{p}}manifests")]
            decisions = decide(infos, policy, pointer_id, now)
            dropped = [d.snapshot_id for d in decisions if not d.keep]
            freed = 0
            for snapshot_id in dropped:
                size = db.one("SELECT size FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
                freed += int(size[0]) if size else 0
                db.execute("DELETE FROM {p}snapshot_parts WHERE snapshot_id = ?", (snapshot_id,))
                db.execute("DELETE FROM {p}manifests WHERE snapshot_id = ?", (snapshot_id,))
            unused = db.all(
                "SELECT sha256, blob_id, stored_bytes FROM {p}parts p WHERE NOT "
                "EXISTS (SELECT 1 FROM {p}snapshot_parts s WHERE s.sha256 = p.sha256)"
            )
            for sha256, blob_id, stored_bytes in unused:
                freed += int(stored_bytes)
                db.execute("DELETE FROM {p}parts WHERE sha256 = ?", (sha256,))
                db.execute("DELETE FROM {p}part_chunks WHERE blob_id = ?", (blob_id,))
            chunks, chunk_bytes = sweep_chunks(db)
            freed += chunk_bytes
            report = PruneReport(
                dry_run=dry_run,
                decisions=decisions,
                removed_snapshots=len(dropped),
                removed_parts=len(unused),
                freed_bytes=freed,
            )
            if dry_run:
                raise _RollBack(report)
    except _RollBack as done:
        return done.report
    for snapshot_id in dropped:
        store._forget(snapshot_id)
    if dropped or unused or chunks:
        log.info(
            "pruned %d snapshot(s), %d part(s) and %d chunk(s) from %s",
            len(dropped),
            len(unused),
            chunks,
            store.location,
        )
    return report
