"""Parts: large payloads as streams of records in canonical JSON Lines.

A part's bytes are one canonical JSON object per line, each ending in ``\\n``; its address is
the SHA-256 of those bytes, whatever compression a store applies. Writing is streaming: records
are encoded and handed to the store's writer in batches, so memory does not grow with the
number of records.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from snapkit.canonical import canonical_bytes, line_encoder
from snapkit.contracts import PartRef, SnapshotManifest
from snapkit.errors import ContractError, UsageError
from snapkit.store import PartWriter, SnapshotStore

BATCH = 2000


def encode_record(record: Any) -> bytes:
    """Return one record as a canonical JSON line (with the trailing newline)."""
    return canonical_bytes(record) + b"\n"


def write_records(
    writer: PartWriter,
    records: Iterable[Any],
    *,
    check: Callable[[Any], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[str, int, int]:
    """Stream ``records`` into ``writer``; return ``(sha256, bytes, records)``.

    :param check: validates each record (raises to abort); if it has an ``accepts``
        predicate (as :class:`snapkit.payloads.RecordCheck` does), records it accepts are
        not checked again.
    :param on_batch: called with the running record count after each batch.
    :param should_stop: polled between batches; ``True`` aborts with ``InterruptedError``.
    """
    count = -1
    batch: list[bytes] = []
    append = batch.append
    encode = line_encoder()
    accepts: Callable[[Any], bool] | None = getattr(check, "accepts", None)
    for count, record in enumerate(records):  # the last count + 1 is the total
        if record.__class__ is not dict and not isinstance(record, dict):
            raise ContractError(
                f"record {count} is a {type(record).__name__}, not a JSON object",
                hint="a record stream yields dicts",
            )
        if check is not None and (accepts is None or not accepts(record)):
            try:
                check(record)
            except ContractError as exc:
                exc.message = f"record {count}: {exc.message}"
                exc.args = (exc.message,)
                raise
        try:
            append(encode(record))
        except ContractError as exc:
            raise ContractError(f"record {count} is not canonical JSON: {exc.message}") from None
        if len(batch) >= BATCH:
            _flush(writer, batch)
            if on_batch is not None:
                on_batch(count + 1)
            if should_stop is not None and should_stop():
                raise InterruptedError("stopped")
    count += 1
    if batch:
        _flush(writer, batch)
        if on_batch is not None:
            on_batch(count)
    sha, size = writer.close()
    return sha, size, count


def _flush(writer: PartWriter, batch: list[bytes]) -> None:
    batch.append(b"")
    writer.write(b"\n".join(batch))
    batch.clear()


def require_table(manifest: SnapshotManifest, table: str) -> PartRef:
    """Return the part called ``table`` of a snapshot.

    :raises UsageError: naming the snapshot's tables, if it has no such part.
    """
    try:
        return manifest.part(table)
    except KeyError:
        names = ", ".join(p.name for p in manifest.parts) or "none"
        raise UsageError(
            f"snapshot {manifest.id[:12]} has no table {table!r}", hint=f"its tables: {names}"
        ) from None


def iter_records(store: SnapshotStore, part: PartRef) -> Iterator[dict[str, Any]]:
    """Yield the records of ``part`` from ``store``, in stored order, one at a time."""
    loads = json.loads
    for line in store.iter_part_lines(part.sha256):
        yield loads(line)
