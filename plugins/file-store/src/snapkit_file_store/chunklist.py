"""The chunk list format: a chunked part's chunks, in table order, and where each is stored.

A chunked part is stored as a chunk list at the part's usual path (``parts/ab/<sha256>...``,
the SHA-256 of the part's whole plain bytes, as for every part); its chunks live in pack files
(:mod:`snapkit_file_store.packs`). The file::

    TAG (8 bytes, "SNAPKCL1")   the format and its version
    digest (32 bytes)           SHA-256 of TAG + the part's name (hex, ASCII) + body
    body                        one zstd frame (with its content checksum) of:
        u64 part size, u32 pack count, u32 chunk count,
        pack count x 32-byte pack SHA-256 (the packs the chunks are in),
        chunk count x entry: 32-byte chunk SHA-256, u32 rows, u32 size, u32 pack index,
                             u64 frame start, u32 frame size (compressed), u32 offset in frame

The digest binds the list to the part it describes: a damaged list, or another part's list
put in its place, is found before any chunk is read. The chunks' own SHA-256s and the part's
SHA-256 over all of them are checked when they are read (see ``docs/snapshots.md``).

This module is the format only (bytes in, bytes out).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

import zstandard
from attrs import frozen

TAG = b"SNAPKCL1"
HEADER_SIZE = len(TAG) + 32
_HEAD = struct.Struct("<QII")
_ENTRY = struct.Struct("<32sIIIQII")
MAX_LIST = 1 << 30
"""Bytes a decompressed chunk list may hold (about 16 million chunks)."""


class ChunkListError(Exception):
    """A chunk list is damaged or another part's (the message says how, no data)."""


@frozen
class Location:
    """Where a chunk's bytes are: in pack ``pack`` (its SHA-256, hex), the zstd frame at
    ``frame_start`` of ``frame_size`` compressed bytes, ``offset`` plain bytes into it."""

    pack: str
    frame_start: int
    frame_size: int
    offset: int


@frozen
class Entry:
    """One chunk of a chunk list: its SHA-256 (raw 32 bytes), rows, plain size, location."""

    sha256: bytes
    rows: int
    size: int
    location: Location


@frozen
class ChunkList:
    """A decoded chunk list: the part's size, its chunks in order and their plain offsets."""

    size: int
    entries: tuple[Entry, ...]
    offsets: tuple[int, ...]

    @property
    def packs(self) -> frozenset[str]:
        """The packs the chunks are stored in."""
        return frozenset(entry.location.pack for entry in self.entries)


def is_chunk_list(head: bytes) -> bool:
    """Whether a part file starting with ``head`` is a chunk list."""
    return head[: len(TAG)] == TAG


def encode(name: str, size: int, entries: Sequence[Entry], level: int = 3) -> bytes:
    """The chunk list file of part ``name`` (its SHA-256, hex) of ``size`` plain bytes."""
    packs = sorted({entry.location.pack for entry in entries})
    number = {pack: index for index, pack in enumerate(packs)}
    body = bytearray(_HEAD.pack(size, len(packs), len(entries)))
    for pack in packs:
        body += bytes.fromhex(pack)
    for entry in entries:
        loc = entry.location
        body += _ENTRY.pack(
            entry.sha256,
            entry.rows,
            entry.size,
            number[loc.pack],
            loc.frame_start,
            loc.frame_size,
            loc.offset,
        )
    frame = zstandard.ZstdCompressor(level=level, write_checksum=True).compress(bytes(body))
    return TAG + _digest(name, frame) + frame


def _digest(name: str, frame: bytes) -> bytes:
    return hashlib.sha256(TAG + name.encode("ascii") + frame).digest()


def decode(data: bytes, name: str) -> ChunkList:
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
        raise ChunkListError(f"has a chunk list that does not decompress ({exc})") from None
    try:
        size, pack_count, count = _HEAD.unpack_from(body)
        start = _HEAD.size + 32 * pack_count
        if len(body) != start + count * _ENTRY.size:
            raise ChunkListError("has a chunk list of the wrong length")
        packs = [
            body[_HEAD.size + 32 * i : _HEAD.size + 32 * (i + 1)].hex() for i in range(pack_count)
        ]
        entries = []
        offsets = []
        position = 0
        for sha, rows, chunk_size, pack, frame_start, frame_size, offset in _ENTRY.iter_unpack(
            body[start:]
        ):
            entries.append(
                Entry(sha, rows, chunk_size, Location(packs[pack], frame_start, frame_size, offset))
            )
            offsets.append(position)
            position += chunk_size
    except (struct.error, IndexError):
        raise ChunkListError("has a malformed chunk list") from None
    if position != size:
        raise ChunkListError("has chunks that do not add up to the part's size")
    return ChunkList(size=size, entries=tuple(entries), offsets=tuple(offsets))
