"""The store's object keys under its prefix, and the history's sortable key names.

::

    <prefix>snapkit-store.json        written by the first write: the store exists
    <prefix>pointer.json              the current pointer (replaced with If-Match on its ETag)
    <prefix>lease.json                the refresh lease (conditional writes)
    <prefix>snapshots/<id>.json       manifests, canonical JSON, written only if absent
    <prefix>parts/<sha256>.zst        parts, named by the SHA-256 of the plain bytes: zstd, or
                                      a chunk list (a chunked part)
    <prefix>packs/<sha256>.pack       chunks of chunked parts, named by the SHA-256 of the pack
    <prefix>history/<at>-<gen>-<event>-<id>[-<nonce>].json   one object per event

History keys sort by the event's time (microseconds since the epoch, zero-padded) and then
the pointer generation, so a prefix listing returns the history in order. A pointer move's
key is derived from the pointer alone, so writing it again (healing a crash between the
pointer's write and the history's) is idempotent.
"""

from __future__ import annotations

import secrets

from attrs import frozen

from snapkit.contracts import HistoryEntry, parse_time


def micros(at: str) -> int:
    """Microseconds since the epoch of an ISO UTC time."""
    moment = parse_time(at)
    return int(moment.timestamp()) * 1_000_000 + int(moment.microsecond)


@frozen
class Keys:
    """Object keys of one store (``prefix`` is empty or ends in ``/``)."""

    prefix: str

    @property
    def marker(self) -> str:
        return f"{self.prefix}snapkit-store.json"

    @property
    def pointer(self) -> str:
        return f"{self.prefix}pointer.json"

    @property
    def lease(self) -> str:
        return f"{self.prefix}lease.json"

    @property
    def snapshots(self) -> str:
        return f"{self.prefix}snapshots/"

    @property
    def parts(self) -> str:
        return f"{self.prefix}parts/"

    @property
    def packs(self) -> str:
        return f"{self.prefix}packs/"

    @property
    def history(self) -> str:
        return f"{self.prefix}history/"

    def manifest(self, snapshot_id: str) -> str:
        return f"{self.snapshots}{snapshot_id}.json"

    def part(self, sha256: str) -> str:
        return f"{self.parts}{sha256}.zst"

    def pack(self, sha256: str) -> str:
        return f"{self.packs}{sha256}.pack"

    def history_entry(self, entry: HistoryEntry) -> str:
        """The key of a history event (deterministic for a pointer move)."""
        name = (
            f"{micros(entry.at):017d}-{entry.generation or 0:010d}-{entry.event}-"
            f"{entry.snapshot_id}"
        )
        if entry.event != "pointer_moved":
            name += f"-{secrets.token_hex(4)}"
        return f"{self.history}{name}.json"

    def stem(self, key: str, folder: str, suffix: str) -> str | None:
        """The name between ``folder`` and ``suffix`` of a listed key, or ``None``."""
        if not key.startswith(folder) or not key.endswith(suffix):
            return None
        return key[len(folder) : len(key) - len(suffix)]


def generation_of(history_key_name: str) -> tuple[int, str] | None:
    """``(generation, event)`` from a history key's name, or ``None`` if malformed."""
    fields = history_key_name.split("-", 3)
    if len(fields) < 4 or not fields[1].isdigit():
        return None
    return int(fields[1]), fields[2]
