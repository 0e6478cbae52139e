"""The JSON forms of what the API answers about snapshots, and the current one's cache.

Plain functions of contracts (the pages may use them too): :func:`summary` is a snapshot as
``GET /api/current`` and ``GET /api/snapshots/{ref}`` show it; :func:`info` is one row of the
list. :class:`CurrentCache` keeps the current snapshot's summary keyed by the store's
pointer (snapshot id and generation), encoded once per pointer generation, so answering
``GET /api/current`` reads one small pointer file (a few times a second), not a manifest, and
encodes only the snapshot's age per request.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from attrs import frozen

from snapkit.contracts import SnapshotInfo, SnapshotManifest
from snapkit.errors import NoSnapshotError
from snapkit.serve.errors import json_bytes


def summary(manifest: SnapshotManifest) -> dict[str, Any]:
    """A snapshot as the API shows it (without its age, which changes every second)."""
    scope = manifest.scope
    return {
        "id": manifest.id,
        "status": manifest.status,
        "created_at": manifest.created_at,
        "scope": {
            "id": scope.id,
            "namespace": scope.namespace,
            "context": scope.context,
            "container": scope.container,
        },
        "versions": {
            "schema": manifest.schema_version,
            "calculation": manifest.calculation_version,
        },
        "tables": [
            {
                "name": p.name,
                "records": p.records,
                "bytes": p.bytes,
                "oracle": p.oracle,
                "key_column": p.key_column,
            }
            for p in manifest.parts
        ],
        "record_count": sum(p.records for p in manifest.parts),
        "payloads": sorted(manifest.payloads),
        "oracles": [
            {
                "key": o.key,
                "version": o.version,
                "status": o.status,
                "source": o.source,
                "optional": o.optional,
                "error": _error(o.error),
            }
            for o in manifest.oracles
        ],
        "errors": [_error(e) for e in manifest.errors],
    }


def _error(error: Any) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "oracle": error.oracle}


def info(item: SnapshotInfo, current_id: str | None) -> dict[str, Any]:
    """One snapshot of a listing."""
    return {
        "id": item.id,
        "created_at": item.created_at,
        "status": item.status,
        "current": item.id == current_id,
        "versions": {"schema": item.schema_version, "calculation": item.calculation_version},
        "namespace": item.namespace,
        "scope_id": item.scope_id,
        "size_bytes": item.size_bytes,
        "error_count": item.error_count,
        "part_count": item.part_count,
        "record_count": item.record_count,
    }


@frozen
class CurrentSummary:
    """The current snapshot as ``GET /api/current`` answers it, encoded once.

    :param manifest: the current snapshot's manifest.
    :param body: its :func:`summary`.
    :param encoded: ``body`` as JSON bytes (see :func:`snapkit.serve.errors.json_bytes`).
    """

    manifest: SnapshotManifest
    body: dict[str, Any]
    encoded: bytes

    def answer(self, age_seconds: float) -> bytes:
        """The JSON of ``{**body, "age_seconds": age_seconds, "current": true}``, byte for
        byte what encoding that object gives, without encoding ``body`` again."""
        return b"".join(
            (
                self.encoded[:-1],
                b',"age_seconds":',
                json_bytes(age_seconds),
                b',"current":true}',
            )
        )


class CurrentCache:
    """The current snapshot's summary, rebuilt only when the store's pointer moves.

    :meth:`get` reads the pointer (blocking: in a worker thread); :meth:`recent` answers
    without any I/O when the pointer was read less than ``max_age`` seconds ago, so a busy
    server checks it a few times a second instead of once per request.
    """

    def __init__(self) -> None:
        self._key: tuple[str, int] | None = None
        self._value: CurrentSummary | None = None
        self._checked = float("-inf")
        self._lock = threading.Lock()

    def recent(self, max_age: float) -> CurrentSummary | None:
        """The value :meth:`get` gave, if it checked the pointer within ``max_age`` s."""
        with self._lock:
            if self._value is not None and time.monotonic() - self._checked < max_age:
                return self._value
        return None

    def last(self) -> CurrentSummary | None:
        """The value :meth:`get` gave last, however long ago it checked the pointer."""
        return self._value

    def get(self, project: Any) -> CurrentSummary:
        """The current snapshot's summary (blocking: call it in a worker thread).

        :raises NoSnapshotError: when no snapshot is current yet.
        """
        store = project.store
        checked = time.monotonic()
        pointer = store.read_pointer()
        if pointer is None:
            project.current()  # raises the project's "no snapshot yet" error, with its hint
            raise NoSnapshotError("no snapshot yet", hint="run 'snapkit refresh' first")
        key = (pointer.snapshot_id, pointer.generation)
        with self._lock:
            if self._key == key and self._value is not None:
                self._checked = max(self._checked, checked)
                return self._value
        manifest = store.get(pointer.snapshot_id)
        body = summary(manifest)
        value = CurrentSummary(manifest, body, json_bytes(body))
        with self._lock:
            self._key, self._value, self._checked = key, value, checked
        return value
