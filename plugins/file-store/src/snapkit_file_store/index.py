"""The listing index: one :class:`SnapshotInfo` line per recorded snapshot.

Listing reads this file instead of opening every manifest, so ``list`` stays fast with 10,000
snapshots. It is derived data: append-only, each line checked (see
:mod:`snapkit_file_store.jsonlines`); ``prune`` rewrites it without the removed snapshots; when
a line is damaged, has no check (an index written before checks existed), the file ends torn,
or its ids disagree with the manifests on disk, it is rebuilt from the manifests before it is
used, and ``verify`` compares every line with the manifest it describes.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from collections.abc import Iterable

import attrs

from snapkit import convert
from snapkit.contracts import SnapshotInfo, parse_time
from snapkit.store import ListFilter
from snapkit_file_store.atomic import replace_atomic
from snapkit_file_store.jsonlines import ContractLog, checked_line
from snapkit_file_store.paths import Layout, writer_tag


def parse_info(line: bytes) -> SnapshotInfo:
    """Parse one index line quickly (plain JSON into the attrs class, no converter).

    :raises ContractError: if the line is not a SnapshotInfo.
    """
    try:
        data = _DECODER.decode(line.decode("utf-8"))
        if isinstance(data, dict) and data.keys() == _INFO_FIELDS:
            return SnapshotInfo(**data)
    except (ValueError, TypeError):
        pass
    return convert.parse(line, SnapshotInfo)


_INFO_FIELDS = frozenset(attrs.fields_dict(SnapshotInfo))
_DECODER = json.JSONDecoder()


def _utc(value: _dt.datetime) -> _dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


class SnapshotIndex:
    """The index file, with an in-memory, newest-first view kept in step with it."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._log: ContractLog[SnapshotInfo] = ContractLog(layout.index, SnapshotInfo, parse_info)
        self._by_id: dict[str, tuple[_dt.datetime, int, SnapshotInfo]] = {}
        self._sorted: list[SnapshotInfo] | None = None
        self._seen = 0
        self._resets = 0
        self._lock = threading.Lock()

    def append(self, info: SnapshotInfo) -> None:
        """Record a new snapshot (call under the store's meta mutex)."""
        self._log.append(info)

    def rewrite(self, infos: Iterable[SnapshotInfo]) -> None:
        """Replace the whole index with ``infos`` (call under the store's meta mutex)."""
        data = b"".join(checked_line(info) for info in infos)
        replace_atomic(self._layout.index, data, self._layout.tmp, writer_tag())

    @property
    def damaged(self) -> bool:
        """Whether a line of the index could not be read or does not match its check."""
        self._refresh()
        return self._log.damaged_lines > 0

    @property
    def unchecked(self) -> bool:
        """Whether the index has lines without a check, or a torn last line."""
        self._refresh()
        return self._log.unchecked_lines > 0 or self._log.torn_tail

    def ids(self) -> set[str]:
        """Ids of every indexed snapshot."""
        self._refresh()
        return set(self._by_id)

    def get(self, snapshot_id: str) -> SnapshotInfo | None:
        """The indexed metadata of ``snapshot_id``, or ``None``."""
        self._refresh()
        entry = self._by_id.get(snapshot_id)
        return entry[2] if entry else None

    def newest_first(self) -> list[SnapshotInfo]:
        """Every indexed snapshot, newest first (latest ``created_at``, then latest recorded)."""
        self._refresh()
        with self._lock:
            if self._sorted is None:
                ranked = sorted(self._by_id.values(), key=lambda e: (e[0], e[1]), reverse=True)
                self._sorted = [entry[2] for entry in ranked]
            return self._sorted

    def select(self, filters: ListFilter | None, limit: int | None) -> list[SnapshotInfo]:
        """Indexed snapshots matching ``filters``, newest first, at most ``limit``."""
        rows = self.newest_first()
        if filters is None or filters == ListFilter():
            return list(rows if limit is None else rows[: max(limit, 0)])
        since = _utc(filters.since) if filters.since else None
        until = _utc(filters.until) if filters.until else None
        out: list[SnapshotInfo] = []
        for info in rows:
            if limit is not None and len(out) >= limit:
                break
            if filters.status and info.status not in filters.status:
                continue
            if filters.namespace is not None and info.namespace != filters.namespace:
                continue
            if filters.scope_id is not None and info.scope_id != filters.scope_id:
                continue
            if since is not None or until is not None:
                created = self._by_id[info.id][0]
                if since is not None and created < since:
                    continue
                if until is not None and created >= until:
                    continue
            out.append(info)
        return out

    def _refresh(self) -> None:
        with self._lock:
            self._catch_up()

    def _catch_up(self) -> None:
        items = self._log.items()
        if self._log.resets != self._resets:
            self._resets = self._log.resets
            self._by_id.clear()
            self._seen = 0
            self._sorted = None
        for seq in range(self._seen, len(items)):
            info = items[seq]  # a later line of the same id (a manifest written again) wins
            self._by_id[info.id] = (parse_time(info.created_at), seq, info)
            self._sorted = None
        self._seen = len(items)
