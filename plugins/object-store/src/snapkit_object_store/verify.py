"""``verify`` for the object store: re-hash everything, like restic's ``check --read-data``.

Every manifest is re-parsed and its id recomputed from its content; every stored part is
downloaded, decompressed and re-hashed (a chunked part: its chunk list against its digest,
each pack index it uses against the list, every chunk against its SHA-256 and the part's
SHA-256 over its chunks); every pack is downloaded and checked whole (its SHA-256 against its
name, every frame and every chunk against its index); every part a recorded (not failed)
snapshot references must be present; every history event must parse; the pointer must name a
verified good snapshot and agree with the history's last pointer move.

A pointer move the history lacks because a refresh died between the pointer's write and the
history's is added (the move happened; this completes the commit). A pointer that is damaged,
lost, names a missing, damaged or failed manifest, or disagrees with the history is recovered
to its rightful target (the last move in the history whose snapshot verifies, else the newest
verified good snapshot) and reported, with ``pointer_recovered=True``, so this verify is not
``ok`` and the next one is. Damaged parts and manifests are reported only: a refresh that
produces the same data writes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from snapkit.canonical import sha256_hex
from snapkit.errors import CorruptSnapshotError, InvalidIdentifierError
from snapkit.store import VerifyProblem, VerifyReport

if TYPE_CHECKING:
    from snapkit_object_store.store import ObjectStore


def verify_store(store: ObjectStore) -> VerifyReport:
    """Re-hash every manifest and part of ``store``; check its pointer and history."""
    from snapkit_object_store.records import check_manifest_bytes

    problems: list[VerifyProblem] = []
    keys = store.keys
    manifests: dict[str, tuple[Any, str]] = {}

    def read_manifest(snapshot_id: str) -> tuple[str, Any]:
        found = store._get(keys.manifest(snapshot_id), "verifying a manifest")
        if found is None:
            return snapshot_id, None  # pruned since the listing
        try:
            return snapshot_id, (check_manifest_bytes(snapshot_id, found[0]), sha256_hex(found[0]))
        except CorruptSnapshotError as exc:
            return snapshot_id, exc

    for snapshot_id, got in store._map(
        read_manifest, [sid for sid, _item in store._manifest_objects()]
    ):
        if isinstance(got, CorruptSnapshotError):
            store._forget(snapshot_id)
            problems.append(VerifyProblem("manifest", snapshot_id, got.message))
        elif got is not None:
            manifests[snapshot_id] = got

    def hash_part(stem: str) -> tuple[str, str | None, str | None]:
        """``(name, digest, problem)``; digest and problem both ``None`` if it is gone."""
        try:
            digest, _size = store._hash_part(stem)
        except KeyError:
            return stem, None, None
        except (CorruptSnapshotError, InvalidIdentifierError) as exc:
            return stem, None, exc.message
        if digest != stem:
            return stem, None, f"hashes to {digest}, not its name"
        return stem, digest, None

    stems = [
        stem
        for item in store._list(keys.parts, "listing parts")
        if (stem := keys.stem(str(item["Key"]), keys.parts, ".zst")) is not None
    ]
    good_parts: set[str] = set()
    part_count = 0
    for stem, digest, problem in store._map(hash_part, stems):
        if problem is not None:
            problems.append(VerifyProblem("part", stem, problem))
        elif digest is None:
            continue
        else:
            good_parts.add(stem)
        part_count += 1

    def check_pack(item: tuple[str, int]) -> VerifyProblem | None:
        name, size = item
        try:
            store._check_pack(name, size)
        except CorruptSnapshotError as exc:
            if exc.message.endswith("is missing"):
                return None  # pruned since the listing
            return VerifyProblem("pack", name, exc.message)
        return None

    packs = [
        (stem, int(item.get("Size", 0)))
        for item in store._list(keys.packs, "listing packs")
        if (stem := keys.stem(str(item["Key"]), keys.packs, ".pack")) is not None
    ]
    problems.extend(p for p in store._map(check_pack, packs) if p is not None)

    reported = {p.ref for p in problems}
    for snapshot_id, (manifest, _sha) in manifests.items():
        if manifest.status == "failed":
            continue
        for ref in manifest.parts:
            if (
                ref.sha256 not in good_parts
                and ref.sha256 not in reported
                and store._head(keys.part(ref.sha256)) is None
            ):
                problems.append(
                    VerifyProblem(
                        "part",
                        ref.sha256,
                        f"part {ref.name!r} of snapshot {snapshot_id} is missing",
                    )
                )
                reported.add(ref.sha256)

    for key, entry in store._history_objects():
        if entry is None:
            problems.append(
                VerifyProblem("history", key.rsplit("/", 1)[-1], "a history event does not parse")
            )

    recovered = _check_pointer(store, manifests, good_parts, problems)
    return VerifyReport(
        snapshots=len(manifests),
        parts=part_count,
        problems=tuple(problems),
        pointer_recovered=recovered,
    )


def _check_pointer(
    store: ObjectStore,
    manifests: dict[str, tuple[Any, str]],
    good_parts: set[str],
    problems: list[VerifyProblem],
) -> bool:
    read = store._read_pointer_object()
    pointer = read.pointer
    moves = [e for e in store.history() if e.event == "pointer_moved"]
    reason: str | None = None
    if pointer is None:
        if read.damage is not None:
            reason = read.damage
        elif moves:
            reason = "the pointer object is missing although the history moved it"
    else:
        target = manifests.get(pointer.snapshot_id)
        if target is None:
            reason = (
                f"the pointer names snapshot {pointer.snapshot_id}, which is missing or damaged"
            )
        elif target[1] != pointer.manifest_sha256:
            reason = "the pointer's manifest hash does not match the stored manifest"
        elif target[0].status == "failed":
            reason = "the pointer names a failed snapshot"
        elif any(ref.sha256 not in good_parts for ref in target[0].parts):
            reason = "the pointer names a snapshot whose parts do not verify"
        else:
            last = moves[-1] if moves else None
            if last is None or (last.generation or 0) < pointer.generation:
                if last is None or (last.generation or 0) + 1 == pointer.generation:
                    store._heal_history(pointer)  # a crash between the two writes
                else:
                    reason = "the history lacks pointer moves before the pointer's generation"
            elif (last.generation, last.snapshot_id) != (pointer.generation, pointer.snapshot_id):
                reason = (
                    f"the pointer (generation {pointer.generation}) disagrees with the "
                    f"history's last move (generation {last.generation})"
                )
    if reason is None:
        return False
    if pointer is not None and reason.startswith("the history lacks"):
        problems.append(VerifyProblem("history", "pointer_moved", reason))
        return False
    recovered = store._recover(reason)
    what = (
        f"recovered it to snapshot {recovered.snapshot_id}"
        if recovered
        else "no verified snapshot is left; it was removed"
    )
    problems.append(VerifyProblem("pointer", "current", f"{reason}; {what}"))
    return True
