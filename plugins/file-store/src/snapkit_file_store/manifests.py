"""Manifests on disk: ``snapshots/<id>.json``, canonical JSON, written once, read with checks.

A manifest is installed by writing a temp file, fsyncing it, renaming it into place and
fsyncing ``snapshots/``. A manifest already present under the same id is kept (the same content
gives the same id; the first capture time stands). Loading checks that the content hashes to
the file's name, so a changed or damaged manifest is never served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from attrs import frozen

from snapkit import convert
from snapkit.canonical import content_id, sha256_hex
from snapkit.contracts import SnapshotManifest
from snapkit.errors import (
    AmbiguousSnapshotIdError,
    ContractError,
    CorruptSnapshotError,
    SnapshotNotFoundError,
)
from snapkit_file_store.atomic import replace_atomic
from snapkit_file_store.paths import Layout, check_prefix, writer_tag

_CACHE_SIZE = 256


@frozen
class LoadedManifest:
    """A manifest read from disk, with the SHA-256 and size of its file."""

    manifest: SnapshotManifest
    sha256: str
    size: int


def check_manifest_bytes(snapshot_id: str, data: bytes) -> SnapshotManifest:
    """Parse manifest bytes and check they hash to ``snapshot_id``.

    :raises CorruptSnapshotError: if the bytes do not parse or hash to another id.
    """
    try:
        manifest = convert.parse(data, SnapshotManifest)
    except ContractError as exc:
        raise CorruptSnapshotError(
            f"manifest of snapshot {snapshot_id} cannot be read: {exc.message}",
            hint="run `snapkit snapshots verify`; the file was damaged or written by another tool",
        ) from None
    computed = content_id(convert.identity_json(manifest))
    if computed != snapshot_id:
        raise CorruptSnapshotError(
            f"manifest of snapshot {snapshot_id} hashes to {computed}: it was changed or damaged",
            hint="run `snapkit snapshots verify` and refresh to write a good snapshot",
        )
    return manifest


class ManifestFiles:
    """Reads, finds and installs manifest files; keeps recently read ones in memory."""

    def __init__(self, layout: Layout) -> None:
        self._layout = layout
        self._cache: OrderedDict[str, LoadedManifest] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, snapshot_id: str) -> LoadedManifest:
        """Load and check the manifest of a full snapshot id.

        :raises SnapshotNotFoundError: if there is no such manifest.
        :raises CorruptSnapshotError: if it does not parse or does not hash to its id.
        """
        with self._lock:
            cached = self._cache.get(snapshot_id)
            if cached is not None:
                self._cache.move_to_end(snapshot_id)
                return cached
        path = self._layout.manifest(snapshot_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SnapshotNotFoundError(
                f"no snapshot {snapshot_id} in the store at {self._layout.root}",
                hint="list snapshots with `snapkit snapshots list`",
            ) from None
        manifest = check_manifest_bytes(snapshot_id, data)
        loaded = LoadedManifest(manifest, sha256_hex(data), len(data))
        self._remember(snapshot_id, loaded)
        return loaded

    def _remember(self, snapshot_id: str, loaded: LoadedManifest) -> None:
        with self._lock:
            self._cache[snapshot_id] = loaded
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    def resolve(self, ref: str) -> str:
        """Return the full id of a snapshot id or unique prefix.

        :raises InvalidIdentifierError: if ``ref`` is not 1-64 lowercase hex digits.
        :raises SnapshotNotFoundError, AmbiguousSnapshotIdError:
        """
        check_prefix(ref)
        if len(ref) == 64:
            if self._layout.manifest(ref).exists():
                return ref
            matches: list[str] = []
        else:
            matches = sorted(i for i in self._layout.manifest_ids() if i.startswith(ref))
        if not matches:
            raise SnapshotNotFoundError(
                f"no snapshot matches {ref!r} in the store at {self._layout.root}",
                hint="list snapshots with `snapkit snapshots list`",
            )
        if len(matches) > 1:
            shown = ", ".join(m[:12] for m in matches[:5])
            raise AmbiguousSnapshotIdError(
                f"snapshot id prefix {ref!r} matches {len(matches)} snapshots ({shown})",
                hint="give more digits of the id",
            )
        return matches[0]

    def install(self, manifest: SnapshotManifest) -> tuple[LoadedManifest, bool]:
        """Write ``manifest`` under its id unless a good copy is already there.

        :returns: the manifest as stored, and whether this call wrote it.
        """
        snapshot_id = manifest.id
        path = self._layout.manifest(snapshot_id)
        if path.exists():
            try:
                self.forget(snapshot_id)
                return self.load(snapshot_id), False
            except CorruptSnapshotError:
                pass  # a damaged copy: replace it with the good one below
        data = convert.dumps(manifest)
        replace_atomic(path, data, self._layout.tmp, writer_tag())
        loaded = LoadedManifest(manifest, sha256_hex(data), len(data))
        self._remember(snapshot_id, loaded)
        return loaded, True

    def forget(self, snapshot_id: str) -> None:
        """Drop a manifest from the in-memory cache (after it was removed)."""
        with self._lock:
            self._cache.pop(snapshot_id, None)
