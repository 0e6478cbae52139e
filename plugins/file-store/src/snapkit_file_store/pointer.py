"""The current pointer file: read it, tell damage from absence, and write it atomically.

The compare-and-swap itself lives in the store (it needs the meta mutex and the history); this
module only knows the file.
"""

from __future__ import annotations

import os

from attrs import frozen

from snapkit import convert
from snapkit.contracts import Pointer
from snapkit.errors import ContractError, InvalidIdentifierError
from snapkit_file_store.atomic import replace_atomic
from snapkit_file_store.paths import Layout, check_id, writer_tag

StatKey = tuple[int, int, int]


@frozen
class PointerRead:
    """What the pointer file held when read.

    :param pointer: the pointer, or ``None`` when the file is missing or damaged.
    :param damage: why the file could not be used, or ``None``.
    :param stat: ``(mtime_ns, size, inode)`` of the file read, or ``None`` if missing.
    """

    pointer: Pointer | None
    damage: str | None
    stat: StatKey | None


def stat_key(layout: Layout) -> StatKey | None:
    """``(mtime_ns, size, inode)`` of the pointer file, or ``None`` if it is missing."""
    try:
        st = os.stat(layout.pointer)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def read_pointer_file(layout: Layout) -> PointerRead:
    """Read and check the pointer file (it must parse and name a well-formed id)."""
    try:
        with open(layout.pointer, "rb") as handle:
            st = os.fstat(handle.fileno())
            data = handle.read()
    except FileNotFoundError:
        return PointerRead(None, None, None)
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    try:
        pointer = convert.parse(data, Pointer)
    except ContractError:
        return PointerRead(None, "the pointer file cannot be parsed", key)
    try:
        check_id(pointer.snapshot_id)
    except InvalidIdentifierError:
        return PointerRead(None, "the pointer file names no valid snapshot", key)
    if pointer.generation < 1:
        return PointerRead(None, "the pointer file names no valid snapshot", key)
    return PointerRead(pointer, None, key)


def write_pointer_file(layout: Layout, pointer: Pointer) -> None:
    """Replace the pointer file (temp file, fsync, rename, directory fsync)."""
    replace_atomic(layout.pointer, convert.dumps(pointer), layout.tmp, writer_tag())
