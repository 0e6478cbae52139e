"""The chunk list format: a chunked part's chunks, in table order, as runs of pack entries.

A chunked part's object (``parts/<sha256>.zst``, the SHA-256 of the part's whole plain bytes,
as for a whole part) holds a chunk list instead of the zstd-compressed part; the chunks live
in pack objects (:mod:`snapkit_object_store.packs`) whose indexes hold each chunk's SHA-256,
rows, size and place. The list names runs of consecutive entries of those indexes, so a
snapshot that changed a few rows of a table costs a few runs. The object::

    TAG (8 bytes, "SNAPKOL1")   the format and its version (a whole part starts with zstd's
                                magic number instead)
    digest (32 bytes)           SHA-256 of TAG + the part's name (hex, ASCII) + body
    body                        one zstd frame (with its content checksum) of:
        u64 part size, u32 pack count, u32 run count,
        pack count x (32-byte pack SHA-256, 32-byte SHA-256 of the pack's index frame,
            u64 index frame start, u32 index frame size),
        run count x (pack number, first entry, entries), each a LEB128 varint; the first
            entry is stored as the (zigzag) difference from the end of the previous run in
            the same pack, so a list that mostly continues where it was costs a few bytes a run

The digest binds the list to the part it describes: a damaged list, or another part's list
put in its place, is found before any pack is read. The index digests bind each pack's index,
and the index's place lets a reader fetch it with one ranged ``GetObject``.

This module is the format only (bytes in, bytes out).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import zstandard
from attrs import frozen

from snapkit.chunking import put_varint, read_varints, unzigzag, zigzag

TAG = b"SNAPKOL1"
HEADER_SIZE = len(TAG) + 32
_HEAD = struct.Struct("<QII")
_PACK = struct.Struct("<32s32sQI")
MAX_LIST = 1 << 30


class ChunkListError(Exception):
    """A chunk list is damaged or another part's (the message says how, no data)."""


@frozen
class PackRef:
    """A pack a chunk list uses: its name, its index frame's SHA-256, start and size."""

    name: str
    index_sha256: str
    index_start: int
    index_size: int


@frozen
class RawList:
    """A decoded chunk list: the part's size, its packs and its runs ``(pack number, first
    entry, entries)``, in table order."""

    size: int
    packs: tuple[PackRef, ...]
    runs: tuple[tuple[int, int, int], ...]


def is_chunk_list(head: bytes) -> bool:
    """Whether a part object starting with ``head`` is a chunk list (else a whole part)."""
    return head[: len(TAG)] == TAG


def encode(
    name: str,
    size: int,
    packs: Sequence[PackRef],
    runs: Sequence[tuple[int, int, int]],
    level: int = 3,
) -> bytes:
    """The chunk list object of part ``name`` (its SHA-256, hex) of ``size`` plain bytes."""
    body = bytearray(_HEAD.pack(size, len(packs), len(runs)))
    for pack in packs:
        body += _PACK.pack(
            bytes.fromhex(pack.name),
            bytes.fromhex(pack.index_sha256),
            pack.index_start,
            pack.index_size,
        )
    ends = [0] * len(packs)
    for number, first, count in runs:
        delta = first - ends[number]
        put_varint(body, number)
        put_varint(body, zigzag(delta))
        put_varint(body, count)
        ends[number] = first + count
    frame = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(bytes(body))
    return TAG + _digest(name, frame) + frame


def _runs(data: bytes, count: int, pack_count: int) -> tuple[tuple[int, int, int], ...]:
    try:
        values = read_varints(data)
    except ValueError:
        raise ChunkListError("has a malformed chunk list") from None
    if len(values) != 3 * count:
        raise ChunkListError("has a chunk list of the wrong length")
    runs = []
    ends = [0] * pack_count
    for i in range(0, len(values), 3):
        pack, shifted, entries = values[i : i + 3]
        if pack >= pack_count or entries == 0:
            raise ChunkListError("has a run naming a pack it does not list")
        first = ends[pack] + unzigzag(shifted)
        if first < 0:
            raise ChunkListError("has a malformed chunk list")
        ends[pack] = first + entries
        runs.append((pack, first, entries))
    return tuple(runs)


def _digest(name: str, frame: bytes) -> bytes:
    return hashlib.sha256(TAG + name.encode("ascii") + frame).digest()


def decode(data: bytes, name: str) -> RawList:
    """Check and decode the chunk list object ``data`` of part ``name``.

    :raises ChunkListError: if it is damaged, truncated or another part's.
    """
    if len(data) < HEADER_SIZE or not is_chunk_list(data):
        raise ChunkListError("has a damaged chunk list header")
    frame = data[HEADER_SIZE:]
    if data[len(TAG) : HEADER_SIZE] != _digest(name, frame):
        raise ChunkListError(
            "has a chunk list that does not match its digest (damaged, or another part's)"
        )
    try:
        body = zstandard.ZstdDecompressor().decompress(frame, max_output_size=MAX_LIST)
    except zstandard.ZstdError as exc:
        raise ChunkListError(f"has a chunk list that does not decompress: {exc}") from None
    if len(body) < _HEAD.size:
        raise ChunkListError("has a malformed chunk list")
    size, pack_count, run_count = _HEAD.unpack_from(body)
    start = _HEAD.size + pack_count * _PACK.size
    if len(body) < start:
        raise ChunkListError("has a chunk list of the wrong length")
    packs = tuple(
        PackRef(pack.hex(), index.hex(), index_start, index_size)
        for pack, index, index_start, index_size in _PACK.iter_unpack(body[_HEAD.size : start])
    )
    runs = _runs(body[start:], run_count, pack_count)
    return RawList(size=size, packs=packs, runs=runs)
