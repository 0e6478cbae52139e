"""Copy every snapshot, the history and the pointer from one store to another
(``snapkit snapshots copy``).

The target must offer :class:`snapkit.store.SnapshotImporter`. The copy runs in three steps,
each idempotent, so a copy that was interrupted (killed, a lost connection) is resumed by
running it again, which copies only what is missing:

1. the target's history must be a prefix of the source's (an empty target, or one an earlier
   copy of this source started); otherwise nothing is written;
2. every snapshot, oldest first: the manifest and the parts it references that the target
   lacks (``import_snapshot``), read with the source's checked reads;
3. the history entries the target lacks, then the pointer (``import_history``).

Then the target is verified: its ``verify`` must pass, every copied manifest must load (its
content re-hashed to its id) and every copied part re-hash to its name, and the target's
pointer and ``current~N`` trail must be the source's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from attrs import frozen

from snapkit.contracts import HistoryEntry, SnapshotManifest
from snapkit.errors import StoreError, UsageError
from snapkit.store import SnapshotImporter, SnapshotStore, pointer_trail

if TYPE_CHECKING:
    from snapkit.project import Project

Progress = Callable[[str], None]

_IMPORTER_METHODS = ("import_snapshot", "import_history")


@frozen
class CopyReport:
    """What a copy did: snapshots and history entries written now, and what was there."""

    snapshots: int
    copied: int
    history_appended: int
    parts_checked: int
    pointer: str | None


def check_importer(target: SnapshotStore, kind: str) -> SnapshotImporter:
    """Return ``target`` as an importer, or raise naming what it lacks."""
    if isinstance(target, SnapshotImporter):
        return target
    lacking = [name for name in _IMPORTER_METHODS if not callable(getattr(target, name, None))]
    raise UsageError(
        f"the {kind!r} store cannot be copied into: it lacks {', '.join(lacking)} "
        "(snapkit.store.SnapshotImporter)",
        hint="copy into a store that has them (file, sqlite, postgresql), or ask the "
        "store's plugin to implement the protocol",
    )


def _check_prefix(own: Sequence[HistoryEntry], source: Sequence[HistoryEntry], where: str) -> None:
    if len(own) <= len(source) and list(own) == list(source[: len(own)]):
        return
    first = next(
        (i for i, (a, b) in enumerate(zip(own, source, strict=False)) if a != b),
        min(len(own), len(source)),
    )
    raise StoreError(
        f"the target store {where} has a history of its own ({len(own)} entries; it differs "
        f"from the source's at entry {first + 1}): copying would mix two histories",
        hint="copy into a new, empty store, or into one an earlier copy of this source started",
    )


def copy_store(
    source: SnapshotStore,
    target: SnapshotStore,
    *,
    kind: str = "target",
    where: str = "target",
    progress: Progress = lambda _line: None,
) -> CopyReport:
    """Copy ``source`` into ``target`` (see the module docstring) and verify the result.

    :raises UsageError: if ``target`` has no :class:`SnapshotImporter`.
    :raises StoreError: if the target has a history of its own, a source read fails, or the
        target does not verify afterwards.
    """
    importer = check_importer(target, kind)
    history = list(source.history())
    pointer = source.read_pointer()
    _check_prefix(list(target.history()), history, where)
    infos = list(reversed(source.list()))
    total = len(infos)
    copied = 0
    manifests: list[SnapshotManifest] = []
    for number, info in enumerate(infos, start=1):
        manifest = source.get(info.id)
        manifests.append(manifest)
        wrote = importer.import_snapshot(manifest, source.open_part)
        copied += wrote
        verb = "copied" if wrote else "present"
        progress(
            f"{verb} {number}/{total} {info.id[:12]} {info.status} "
            f"({len(manifest.parts)} parts, {info.size_bytes:,} bytes)"
        )
    appended = importer.import_history(history, pointer)
    progress(
        f"history: appended {appended} of {len(history)} entries; pointer "
        + (
            f"at {pointer.snapshot_id[:12]} (generation {pointer.generation})"
            if pointer
            else "none"
        )
    )
    checked = verify_copy(source, target, manifests, history, progress)
    return CopyReport(
        snapshots=total,
        copied=copied,
        history_appended=appended,
        parts_checked=checked,
        pointer=None if pointer is None else pointer.snapshot_id,
    )


def verify_copy(
    source: SnapshotStore,
    target: SnapshotStore,
    manifests: Sequence[SnapshotManifest],
    history: Sequence[HistoryEntry],
    progress: Progress,
) -> int:
    """Check the target after a copy; return how many parts were re-hashed.

    :raises StoreError: naming the first thing that does not match.
    """
    progress("verifying the target")
    report = target.verify()
    if not report.ok:
        shown = "; ".join(f"{p.kind} {p.ref[:12]}: {p.message}" for p in report.problems[:3])
        raise StoreError(
            f"the copy does not verify: {shown}",
            hint="run `snapkit snapshots verify` on the target, then copy again",
        )
    seen: set[str] = set()
    for manifest in manifests:
        if target.get(manifest.id).id != manifest.id:  # get re-hashes the manifest to its id
            raise StoreError(f"snapshot {manifest.id} did not copy under its id", hint="copy again")
        if manifest.status == "failed":
            continue
        for ref in manifest.parts:
            if ref.sha256 in seen:
                continue
            digest = hashlib.sha256()
            with target.open_part(ref.sha256) as handle:
                while block := handle.read(1 << 20):
                    digest.update(block)
            if digest.hexdigest() != ref.sha256:
                raise StoreError(
                    f"part {ref.sha256} of snapshot {manifest.id} does not "
                    "re-hash to its name in the target",
                    hint="copy again",
                )
            seen.add(ref.sha256)
    source_pointer, target_pointer = source.read_pointer(), target.read_pointer()
    same = (source_pointer is None and target_pointer is None) or (
        source_pointer is not None
        and target_pointer is not None
        and (source_pointer.snapshot_id, source_pointer.generation)
        == (target_pointer.snapshot_id, target_pointer.generation)
    )
    if (
        not same
        or list(target.history())[: len(history)] != list(history)
        or (
            pointer_trail(history, source_pointer).ids
            != pointer_trail(target.history(), target_pointer).ids
        )
    ):
        raise StoreError(
            "the target's pointer or history differs from the source's after the "
            "copy (did a refresh run on either meanwhile?)",
            hint="stop refreshes on both stores and copy again",
        )
    return len(seen)


@frozen
class Target:
    """The store a copy writes into: the store, its kind, and where it is (for messages)."""

    store: SnapshotStore
    kind: str
    where: str


def open_target(spec: str, source: Project) -> Target:
    """Open the store ``--to`` names: a config file, or ``KIND:PATH`` / ``KIND:DSN``.

    ``KIND:REST`` (``file:backup``, ``sqlite:store.sqlite3``,
    ``postgresql:postgresql://user@host/db``) is a store of an installed kind with its
    defaults: ``REST`` is its ``path`` (relative to the working folder) for stores with one,
    else its ``dsn``. Anything else is a configuration file whose ``[store]`` is the target.

    :raises UsageError, ConfigError: if ``spec`` names neither, or the target is the source.
    """
    from pathlib import Path

    from snapkit.config import config_from_data
    from snapkit.project import Project

    kind, sep, rest = spec.partition(":")
    stores = source.manager.stores
    if sep and kind in stores and not Path(spec).is_file():
        if not rest:
            raise UsageError(
                f"--to {spec!r} names no {kind} store",
                hint=f"give {kind}:PATH (or {kind}:DSN), or a config file",
            )
        schema = stores.get(kind).settings_schema
        properties = (schema or {}).get("properties", {})
        if schema is None or "path" in properties:
            settings = {"path": rest}
        elif "dsn" in properties:
            settings = {"dsn": rest}
        else:
            raise UsageError(
                f"the {kind!r} store cannot be named as {kind}:...",
                hint="give a config file whose [store] section configures it",
            )
        config = config_from_data({"store": {"kind": kind, **settings}}, None, Path.cwd())
        project = Project(config, source.manager)
        project.validate_settings()
        where = spec if kind != "postgresql" else kind
    else:
        path = Path(spec)
        if not path.is_file():
            known = ", ".join(sorted(stores.keys()))
            raise UsageError(
                f"--to {spec!r} is neither a config file nor KIND:PATH of an installed store "
                f"kind ({known})",
                hint="give a config file (e.g. new/snapkit.toml) or a store such as "
                "sqlite:store.sqlite3 or file:snapkit-backup",
            )
        project = Project.load(path)
        kind = project.config.store_kind
        where = str(path)
    target = project.store
    location = getattr(target, "location", None)
    if location is not None:
        where = f"{location}"
        if location == getattr(source.store, "location", object()):
            raise UsageError(
                f"--to {spec!r} is the store being copied ({location})", hint="name another store"
            )
    return Target(store=target, kind=kind, where=where)
