"""The chunk list format: a chunked part's chunks, in table order, as runs of pack entries.

A chunked part is stored as a chunk list at the part's usual path (``parts/ab/<sha256>...``,
the SHA-256 of the part's whole plain bytes, as for every part); its chunks live in packs
(:mod:`snapkit_file_store.packs`), whose indexes hold each chunk's SHA-256, rows and size.
The list names runs of consecutive entries of those indexes, so a snapshot that changed a
few rows of a table costs a few runs, not a list of every chunk again. The file::

    TAG (8 bytes, "SNAPKCL1")   the format and its version
    digest (32 bytes)           SHA-256 of TAG + the part's name (hex, ASCII) + body
    body                        one zstd frame (with its content checksum) of:
        u64 part size, u32 pack count, u32 run count,
        pack count x (32-byte pack SHA-256, 32-byte SHA-256 of the pack's index frame),
        run count x (pack number, first entry, entries), each a LEB128 varint; the first
            entry is stored as the (zigzag) difference from the end of the previous run in
            the same pack, so a list that mostly continues where it was costs a few bytes a run

The digest binds the list to the part it describes: a damaged list, or another part's list
put in its place, is found before any pack is read; the index digests bind each pack's index.

This module is the format only (bytes in, bytes out).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import zstandard
from attrs import frozen

from snapkit.chunking import put_varint, read_varints, unzigzag, zigzag

TAG = b"SNAPKCL1"
HEADER_SIZE = len(TAG) + 32
_HEAD = struct.Struct("<QII")
_PACK = struct.Struct("<32s32s")
MAX_LIST = 1 << 30


class ChunkListError(Exception):
    """A chunk list is damaged or another part's (the message says how, no data)."""


@frozen
class RawList:
    """A decoded chunk list: the part's size, its packs ``(name, index SHA-256)`` and its
    runs ``(pack number, first entry, entries)``, in table order."""

    size: int
    packs: tuple[tuple[str, str], ...]
    runs: tuple[tuple[int, int, int], ...]


def is_chunk_list(head: bytes) -> bool:
    """Whether a part file starting with ``head`` is a chunk list."""
    return head[: len(TAG)] == TAG


def encode(
    name: str,
    size: int,
    packs: Sequence[tuple[str, str]],
    runs: Sequence[tuple[int, int, int]],
    level: int = 3,
) -> bytes:
    """The chunk list file of part ``name`` (its SHA-256, hex) of ``size`` plain bytes."""
    body = bytearray(_HEAD.pack(size, len(packs), len(runs)))
    for pack, index in packs:
        body += _PACK.pack(bytes.fromhex(pack), bytes.fromhex(index))
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
    """Check and decode the chunk list file ``data`` of part ``name``.

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
        (pack.hex(), index.hex()) for pack, index in _PACK.iter_unpack(body[_HEAD.size : start])
    )
    runs = _runs(body[start:], run_count, pack_count)
    return RawList(size=size, packs=packs, runs=runs)
