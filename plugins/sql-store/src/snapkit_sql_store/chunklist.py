"""The chunk list format of the SQL store: a chunked part's chunks, as runs of chunk ids.

A chunked part's blob (its ``part_chunks`` rows, as for a whole part) holds its chunk list;
its chunks are rows of the ``chunks`` table, each stored once, named by its SHA-256 and
numbered by an id. Chunks a part writes new get ascending ids, so the list names runs of
consecutive ids: a snapshot that changed a few rows of a table costs a few runs. The bytes::

    TAG (8 bytes, "SNAPSCL1")   the format and its version
    digest (32 bytes)           SHA-256 of TAG + the part's name (hex, ASCII) + frame
    frame                       one zstd frame (with its content checksum) of:
        u64 part size, u32 chunk count, u32 run count,
        32 bytes: SHA-256 of the resolved table (:func:`table_digest`),
        run count x (first id, ids), LEB128 varints; the first id stored as the (zigzag)
            difference from the end of the previous run

The digest binds the list to its part (a damaged list, or another part's put in its place,
is found before a chunk is read); the table digest binds the chunk rows' SHA-256s, row counts
and sizes that the runs resolve to, so ``part_chunks`` answers only from checked data.

This module is the format only (bytes in, bytes out).
"""

from __future__ import annotations

import hashlib
import struct
import sys
from array import array
from collections.abc import Sequence

import zstandard
from attrs import frozen

from snapkit.chunking import put_varint, read_varints, unzigzag, zigzag

TAG = b"SNAPSCL1"
HEADER_SIZE = len(TAG) + 32
_HEAD = struct.Struct("<QII32s")
MAX_LIST = 1 << 30


class ChunkListError(Exception):
    """A chunk list is damaged or another part's (the message says how, no data)."""


@frozen
class RawList:
    """A decoded chunk list: the part's size, chunk count, table digest and its runs
    ``(first id, ids)`` in table order."""

    size: int
    count: int
    table_sha256: bytes
    runs: tuple[tuple[int, int], ...]


def _le(values: array[int]) -> bytes:
    if sys.byteorder == "little":
        return values.tobytes()
    swapped = array(values.typecode, values)
    swapped.byteswap()
    return swapped.tobytes()


def table_digest(digests: bytes, rows: array[int], sizes: array[int]) -> bytes:
    """The SHA-256 binding a resolved table: its raw digests, then rows and sizes (u64 LE)."""
    digest = hashlib.sha256(digests)
    digest.update(_le(rows))
    digest.update(_le(sizes))
    return digest.digest()


def runs_of(ids: Sequence[int]) -> list[tuple[int, int]]:
    """Runs ``(first id, ids)`` of consecutive ascending ids, in order."""
    runs: list[list[int]] = []
    for chunk_id in ids:
        if runs and runs[-1][0] + runs[-1][1] == chunk_id:
            runs[-1][1] += 1
        else:
            runs.append([chunk_id, 1])
    return [(first, count) for first, count in runs]


def encode(
    name: str, size: int, table_sha256: bytes, runs: Sequence[tuple[int, int]], level: int = 3
) -> bytes:
    """The chunk list of part ``name`` (its SHA-256, hex) of ``size`` plain bytes."""
    count = sum(n for _first, n in runs)
    body = bytearray(_HEAD.pack(size, count, len(runs), table_sha256))
    end = 0
    for first, n in runs:
        delta = first - end
        put_varint(body, zigzag(delta))
        put_varint(body, n)
        end = first + n
    frame = zstandard.ZstdCompressor(level=max(level, 1), write_checksum=True).compress(bytes(body))
    return TAG + _digest(name, frame) + frame


def _digest(name: str, frame: bytes) -> bytes:
    return hashlib.sha256(TAG + name.encode("ascii") + frame).digest()


def is_chunk_list(head: bytes) -> bool:
    """Whether a blob starting with ``head`` is a chunk list."""
    return head[: len(TAG)] == TAG


def decode(data: bytes, name: str) -> RawList:
    """Check and decode the chunk list ``data`` of part ``name``.

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
    size, count, run_count, table = _HEAD.unpack_from(body)
    try:
        values = read_varints(body[_HEAD.size :])
    except ValueError:
        raise ChunkListError("has a malformed chunk list") from None
    if len(values) != 2 * run_count:
        raise ChunkListError("has a chunk list of the wrong length")
    runs: list[tuple[int, int]] = []
    end = 0
    for i in range(0, len(values), 2):
        shifted, n = values[i], values[i + 1]
        first = end + unzigzag(shifted)
        if first < 1 or n == 0:
            raise ChunkListError("has a malformed chunk list")
        runs.append((first, n))
        end = first + n
    if sum(n for _first, n in runs) != count:
        raise ChunkListError("has a chunk list whose runs do not add up to its chunks")
    return RawList(size=size, count=count, table_sha256=table, runs=tuple(runs))
