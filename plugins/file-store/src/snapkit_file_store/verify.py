"""``verify`` for the file store: re-hash everything, like restic's ``check --read-data``.

Every manifest is re-parsed and its id recomputed from its content; every stored part is
decompressed and re-hashed (a chunked part: every chunk its list names, each against its
SHA-256, and the part's SHA-256 over all of them); every pack is re-hashed against its name
(which also finds damage in chunks no kept snapshot uses any more); every part a recorded
(not failed) snapshot references must be present; the pointer must name a verified good
snapshot and agree with the history's last pointer move; every history line must match its
check; the listing index must describe exactly the manifests on disk. The staging area and
temp files are not data and are ignored, and so are packs no chunk list names (left by a
crash between installing a part's pack and its list, or damaged and replaced by a refresh
that wrote their chunks again): the next prune removes them.

What can be repaired from verified data is repaired, and reported as a problem saying what was
done (so this verify exits 1 and the next one passes): a pointer that is damaged, lost, names a
missing, damaged or failed manifest, records the wrong manifest hash, or disagrees with the
history is recovered to its rightful target (the last pointer move in the history whose
manifest and parts verify, else the newest verified good snapshot), with
``pointer_recovered=True``; damaged history lines are set aside in ``history-damaged.jsonl``;
a damaged or disagreeing listing index is rebuilt from the manifests. Damaged or missing parts
and manifests are reported only: a refresh that produces the same data writes them again.

Listing and re-hashing take no lock, so a long verify never holds up a refresh; commits and
prunes may run meanwhile. What they can make look wrong is looked at again under the store's
short mutex before it is reported: a part found missing is reported only if the snapshot
referencing it is still recorded and the part still absent (a prune removes both), and the
pointer is checked as it is under the mutex, its manifest read from disk when it was committed
after the listing. Files that appear after the listing are checked by the next verify.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import frozen

from snapkit import convert
from snapkit.canonical import sha256_hex
from snapkit.contracts import HistoryEntry, PartRef, Pointer, SnapshotManifest
from snapkit.errors import ContractError, CorruptSnapshotError, InvalidIdentifierError
from snapkit.store import VerifyProblem, VerifyReport, info_of
from snapkit_file_store.atomic import append_line, replace_atomic
from snapkit_file_store.chunked import read_raw_list
from snapkit_file_store.jsonlines import unwrap_line
from snapkit_file_store.manifests import check_manifest_bytes
from snapkit_file_store.packs import hash_pack_file
from snapkit_file_store.paths import Layout, check_part_hash, writer_tag
from snapkit_file_store.pointer import read_pointer_file

if TYPE_CHECKING:
    from snapkit_file_store.internals import StoreInternals

log = logging.getLogger(__name__)


@frozen
class _Manifest:
    """A manifest as verify read it, with the SHA-256 of its file."""

    manifest: SnapshotManifest
    sha256: str
    size: int


@frozen
class _Parts:
    """What the part listing found.

    :param files: ``(name stem, path)`` of every file listed under ``parts/``.
    :param present: stems of the listed files that were not removed before they were read.
    :param good: stems of the parts that re-hashed to their name.
    """

    files: list[tuple[str, Path]]
    present: frozenset[str]
    good: frozenset[str]


def verify_store(store: StoreInternals) -> VerifyReport:
    """Re-hash every manifest and part of ``store``; check its pointer, history and index."""
    layout = store.layout
    problems: list[VerifyProblem] = []
    manifest_ids, manifests = _read_manifests(layout, problems)
    parts = _hash_parts(store, problems)
    _hash_packs(layout, _packs_named(layout, parts.files), problems)

    suspects = [
        (snapshot_id, ref)
        for snapshot_id, entry in manifests.items()
        if entry.manifest.status != "failed"
        for ref in entry.manifest.parts
        if ref.sha256 not in parts.present
    ]
    if store.exists():  # verify never creates a store
        with store.meta_mutex():  # briefly: small reads and repairs (a pointer recovery
            # re-hashes the parts of the snapshots it considers)
            problems.extend(_missing_parts_locked(layout, suspects))
            problems.extend(_history_locked(store))
            problems.extend(pointer_locked(store, set(manifest_ids), manifests, parts))
            problems.extend(_index_locked(store, manifests))
    recovered = store.take_recovery_flag()
    return VerifyReport(
        snapshots=len(manifest_ids),
        parts=len(parts.files),
        problems=tuple(problems),
        pointer_recovered=recovered,
    )


def _read_manifests(
    layout: Layout, problems: list[VerifyProblem]
) -> tuple[list[str], dict[str, _Manifest]]:
    """Re-parse every listed manifest; return the listed ids and the good manifests."""
    for name in layout.stray_manifest_names():
        problems.append(VerifyProblem("manifest", name, "is not named <snapshot id>.json"))
    manifests: dict[str, _Manifest] = {}
    manifest_ids = sorted(layout.manifest_ids())
    for snapshot_id in manifest_ids:
        try:
            data = layout.manifest(snapshot_id).read_bytes()
            manifests[snapshot_id] = _Manifest(
                check_manifest_bytes(snapshot_id, data), sha256_hex(data), len(data)
            )
        except FileNotFoundError:
            continue  # pruned while we looked
        except CorruptSnapshotError as exc:
            problems.append(VerifyProblem("manifest", snapshot_id, exc.message))
    return manifest_ids, manifests


def _hash_parts(store: StoreInternals, problems: list[VerifyProblem]) -> _Parts:
    """Re-hash every file under ``parts/`` (a chunk list: every chunk it lists, each against
    its SHA-256, and the part's SHA-256 over all of them)."""
    layout = store.layout
    files = layout.part_files()
    gone: set[str] = set()
    good: set[str] = set()
    for stem, path in files:
        try:
            check_part_hash(stem)
        except InvalidIdentifierError:
            problems.append(VerifyProblem("part", stem, f"unexpected file {path} in parts/"))
            continue
        if path != layout.part(stem):
            problems.append(VerifyProblem("part", stem, f"is stored at the wrong path {path}"))
            continue
        try:
            digest, _size = store.hash_part(stem)
        except FileNotFoundError:
            gone.add(stem)  # pruned while we looked
            continue
        except CorruptSnapshotError as exc:
            if not path.exists():
                gone.add(stem)  # pruned with its packs while we read its chunks
                continue
            problems.append(VerifyProblem("part", stem, f"is damaged: {exc.message}"))
            continue
        if digest != stem:
            problems.append(
                VerifyProblem(
                    "part", stem, f"content hashes to {digest}: the file was changed or damaged"
                )
            )
            continue
        good.add(stem)
    present = frozenset(stem for stem, _path in files) - gone
    return _Parts(files=files, present=present, good=frozenset(good))


def _packs_named(layout: Layout, files: list[tuple[str, Path]]) -> set[str]:
    """The packs the chunk lists under ``parts/`` name (damaged lists were reported)."""
    named: set[str] = set()
    for stem, path in files:
        try:
            raw = read_raw_list(path, stem)
        except (OSError, CorruptSnapshotError):
            continue
        if raw is not None:
            named.update(name for name, _index in raw.packs)
    return named


def _hash_packs(layout: Layout, named: set[str], problems: list[VerifyProblem]) -> None:
    """Re-hash every pack a chunk list names against its name. A pack no list names is
    garbage (a crash between installing it and its list, or a damaged pack whose chunks a
    refresh wrote again elsewhere): not read, removed by the next prune."""
    for stem, path in layout.pack_files():
        if stem not in named:
            continue
        try:
            check_part_hash(stem)
        except InvalidIdentifierError:
            problems.append(VerifyProblem("pack", stem, f"unexpected file {path} in packs/"))
            continue
        if path != layout.pack(stem):
            problems.append(VerifyProblem("pack", stem, f"is stored at the wrong path {path}"))
            continue
        try:
            digest = hash_pack_file(path)
        except FileNotFoundError:
            continue  # pruned while we looked
        if digest != stem:
            problems.append(
                VerifyProblem(
                    "pack", stem, f"content hashes to {digest}: the file was changed or damaged"
                )
            )


def _missing_parts_locked(
    layout: Layout, suspects: list[tuple[str, PartRef]]
) -> list[VerifyProblem]:
    """The suspects still missing now (call under the meta mutex, where no commit or prune
    is half done): the snapshot is still recorded and the part is still absent."""
    return [
        VerifyProblem(
            "part", ref.sha256, f"is missing; snapshot {snapshot_id} references it as {ref.name!r}"
        )
        for snapshot_id, ref in suspects
        if layout.manifest(snapshot_id).exists() and not layout.part(ref.sha256).exists()
    ]


def pointer_locked(
    store: StoreInternals, listed: set[str], manifests: dict[str, _Manifest], parts: _Parts
) -> list[VerifyProblem]:
    """Check the pointer as it is now, and recover it if it cannot stand (under the mutex).

    A pointer that names a snapshot committed after the listing has its manifest read now;
    that snapshot's parts count as good if they re-hashed in the listing, or, when they were
    not listed yet, if they are present now (their content is checked by the next verify).
    """
    layout = store.layout
    read = read_pointer_file(layout)
    pointer = read.pointer
    if pointer is None:
        if read.damage is None and not store.pointer_expected():
            return []  # no snapshot was ever current
        return [
            _recover(
                store,
                "current",
                read.damage or "the pointer file is missing although the history moved it",
            )
        ]
    problems: list[VerifyProblem] = []
    entry = manifests.get(pointer.snapshot_id)
    if entry is None:
        entry = _reread_manifest(layout, pointer.snapshot_id, listed, problems)
    reason: str | None = None
    if entry is None:
        reason = "it names a snapshot whose manifest is missing or damaged"
    elif entry.manifest.status == "failed":
        reason = "it names a failed snapshot"
    elif entry.sha256 != pointer.manifest_sha256:
        reason = "it records a manifest hash that does not match the stored manifest"
    else:  # a pointer that can be served: it must agree with the history
        problems.extend(_repair_history_locked(store, pointer))
        last = _last_move(store)
        if last is not None and (last.snapshot_id, last.generation) != (
            pointer.snapshot_id,
            pointer.generation,
        ):
            reason = (
                f"it names generation {pointer.generation}, but the history's last "
                f"pointer move is to snapshot {last.snapshot_id} at generation "
                f"{last.generation}: the pointer file was moved back or replaced"
            )
    if reason is not None:
        problems.append(_recover(store, pointer.snapshot_id, reason, keep_if_none=True))
        return problems
    assert entry is not None
    bad = [
        ref.sha256
        for ref in entry.manifest.parts
        if ref.sha256 not in parts.good
        and (ref.sha256 in parts.present or not layout.part(ref.sha256).exists())
    ]
    if bad:
        problems.append(
            VerifyProblem(
                "pointer",
                pointer.snapshot_id,
                f"names a snapshot with {len(bad)} missing or damaged part(s); refresh to write "
                "them again",
            )
        )
    return problems


def _recover(
    store: StoreInternals, ref: str, reason: str, *, keep_if_none: bool = False
) -> VerifyProblem:
    """Recover the pointer (under the mutex) and describe what was wrong and what was done."""
    pointer = store.recover_locked(reason, keep_if_none=keep_if_none)
    if pointer is not None:
        done = f"recovered it to snapshot {pointer.snapshot_id}, the last verified pointer target"
    elif keep_if_none:
        done = "no verified snapshot is left to recover to; refresh to write a good one"
    else:
        done = "no verified snapshot is left, so it was removed; refresh to write a good one"
    return VerifyProblem("pointer", ref, f"{reason}; {done}")


def _last_move(store: StoreInternals) -> HistoryEntry | None:
    moves = [e for e in store.history_log.items() if e.event == "pointer_moved"]
    return moves[-1] if moves else None


def _reread_manifest(
    layout: Layout, snapshot_id: str, listed: set[str], problems: list[VerifyProblem]
) -> _Manifest | None:
    """Read the pointer's manifest from disk when the listing holds no good copy of it.

    The listing lacks it when it was committed after it was listed; a damaged one was reported
    when it was listed, and is reported here when it was not.
    """
    try:
        data = layout.manifest(snapshot_id).read_bytes()
        return _Manifest(check_manifest_bytes(snapshot_id, data), sha256_hex(data), len(data))
    except FileNotFoundError:
        return None
    except CorruptSnapshotError as exc:
        if snapshot_id not in listed:
            problems.append(VerifyProblem("manifest", snapshot_id, exc.message))
        return None


def _repair_history_locked(store: StoreInternals, pointer: Pointer) -> list[VerifyProblem]:
    """Add the pointer's last move to the history if it is missing (under the mutex).

    A crash between the pointer's write and the history's append loses exactly that one
    move: it is added with a warning (the line added is the one lost). A pointer more than one
    generation past the history's last move means history lines were lost: that is reported.
    """
    last = store.heal_history_locked(pointer)
    if pointer.generation <= last + 1:
        return []
    lost = (
        f"generation {last + 1}"
        if pointer.generation == last + 2
        else f"generations {last + 1}-{pointer.generation - 1}"
    )
    return [
        VerifyProblem(
            "history",
            "history.jsonl",
            f"lacks the pointer moves of {lost} (the pointer is at generation "
            f"{pointer.generation}): lines were lost; added the current pointer's move",
        )
    ]


def _history_locked(store: StoreInternals) -> list[VerifyProblem]:
    """Set damaged history lines aside (under the mutex) and report them.

    Lines that do not parse or do not match their check, and a torn last line, move to
    ``history-damaged.jsonl`` (appended, so nothing is lost); the history keeps the good
    lines in their order.
    """
    history = store.history_log
    history.items()
    if not (history.damaged_lines or history.torn_tail):
        return []
    layout = store.layout
    try:
        data = layout.history.read_bytes()
    except FileNotFoundError:
        return []
    good: list[bytes] = []
    bad: list[bytes] = []
    numbers: list[int] = []
    for number, line in enumerate(data.splitlines(keepends=True), start=1):
        if not line.strip():
            continue
        if not line.endswith(b"\n") or not _history_line_ok(line):
            bad.append(line if line.endswith(b"\n") else line + b"\n")
            numbers.append(number)
        else:
            good.append(line)
    if not bad:
        return []
    for line in bad:
        append_line(layout.history_damaged, line)
    replace_atomic(layout.history, b"".join(good), layout.tmp, writer_tag())
    history.items()
    shown = ", ".join(str(n) for n in numbers[:10]) + (", ..." if len(numbers) > 10 else "")
    log.warning(
        "set aside %d damaged line(s) of the history of %s in %s",
        len(bad),
        layout.root,
        layout.history_damaged.name,
    )
    return [
        VerifyProblem(
            "history",
            "history.jsonl",
            f"{len(bad)} damaged line(s) (line {shown}): set aside in "
            f"{layout.history_damaged.name}; the history keeps its {len(good)} good line(s)",
        )
    ]


def _history_line_ok(line: bytes) -> bool:
    try:
        body, _checked = unwrap_line(line)
        convert.parse(body, HistoryEntry)
    except ContractError:
        return False
    return True


def _index_locked(store: StoreInternals, manifests: dict[str, _Manifest]) -> list[VerifyProblem]:
    """Compare the listing index with the manifests (under the mutex); rebuild it if wrong.

    Only manifests that verified count; a snapshot committed after the listing is checked by
    the next verify, and one pruned since is not counted as missing.
    """
    index = store.snapshot_index
    layout = store.layout
    what: list[str] = []
    if index.damaged:
        what.append("has damaged lines")
    indexed = index.ids()
    on_disk = set(layout.manifest_ids())
    extra = indexed - on_disk
    lacking = [sid for sid in manifests if sid in on_disk and sid not in indexed]
    wrong = [
        sid
        for sid, entry in manifests.items()
        if sid in indexed and index.get(sid) != info_of(entry.manifest, entry.size)
    ]
    if extra:
        what.append(f"lists {len(extra)} snapshot(s) that have no manifest")
    # A commit killed after its manifest landed and before its listing line did leaves a
    # manifest that nothing names yet (every finished commit adds a history line): listing it
    # finishes that commit, it is not damage. A missing line of a recorded snapshot is.
    recorded = {entry.snapshot_id for entry in store.history_log.items()}
    interrupted = [sid for sid in lacking if sid not in recorded]
    lacking = [sid for sid in lacking if sid in recorded]
    if interrupted:
        log.info(
            "listed %d snapshot(s) of %s whose commit was interrupted before it listed them",
            len(interrupted),
            layout.root,
        )
    if lacking:
        what.append(f"lacks {len(lacking)} snapshot(s)")
    if wrong:
        what.append(f"describes {len(wrong)} snapshot(s) unlike their manifests")
    if what or interrupted or index.unchecked:
        store.rebuild_index()
    if not what:
        return []
    return [
        VerifyProblem("index", "index.jsonl", "; ".join(what) + ": rebuilt it from the manifests")
    ]
