"""The seekable part format: independent zstd frames of whole lines, and a checked seek table.

A part written by this store is a file in the zstd seekable format (``contrib/seekable_format``
in the zstd repository), with one addition at its start::

    header    skippable frame (magic 0x184D2A5B): TAG, SHA-256 of the seek table (48 bytes)
    frame 1   zstd frame: whole lines, about FRAME_SIZE bytes of plain data, content size and
    ...       content checksum (XXH64) in the frame
    frame n   (a part with no data has one empty frame)
    seek table  skippable frame (magic 0x184D2A5E): per frame its compressed size, plain
                size and checksum (the header is entry 0: 48 bytes, no data); footer:
                frame count, descriptor 0x80 (checksums present), magic 0x8F92EAB1

``zstd -d`` skips both skippable frames and decompresses the frames in turn; a reader of the
seekable format finds any frame from the table (the header is listed as a frame without data,
so the table's offsets start at 0 as the format says).

**Why the header.** A reader must never take a damaged part for a shorter valid one. A file
cut exactly between two frames is made of complete, checksummed frames: only the missing
table would tell. The header says "this file has a table"; a file that starts with it and
has no valid table is damaged. Files that start with a zstd frame are parts written before
this format (one frame, no table) and are read as before. The header also holds the SHA-256
of the part's name and the seek table, so a changed size in the table (which would move
every later frame's plain offset without touching any frame) is found before the table is
used, and a table is never read for another part than the one named.

This module is the format only (bytes in, bytes out); :mod:`snapkit_file_store.parts` does
the I/O.
"""

from __future__ import annotations

import hashlib
import struct

from attrs import frozen

HEADER_MAGIC = 0x184D2A5B
TABLE_MAGIC = 0x184D2A5E
SEEKABLE_MAGIC = 0x8F92EAB1
ZSTD_MAGIC = 0xFD2FB528
TAG = b"SNAPKSK1"
HEADER_SIZE = 8 + len(TAG) + 32
DESCRIPTOR = 0x80
"""Checksum flag set, reserved bits clear: every entry carries its frame's checksum."""
FOOTER_SIZE = 9
ENTRY_SIZE = 12
FRAME_SIZE = 1 << 20
"""Plain bytes per frame this store aims for (whole lines: a frame ends with the line that
reaches this size). On the bench's users table, 1 MiB frames store 11 % more than one frame
(4 MiB: 6 %, 256 KiB: 30 %) and a row is read in about a millisecond (one frame
decompressed); the figures are in ``docs/search.md``."""
MAX_FRAME = 1 << 30
"""The seekable format's limit on a frame's plain size; a longer line is cut (readers join
frames)."""
EMPTY_CHECKSUM = b"\x99\xe9\xd8\x51"
"""The low 32 bits of XXH64 of no bytes, little-endian (the header's entry)."""


class SeekTableError(Exception):
    """The header or seek table of a part is damaged (the message says how, no data)."""


@frozen
class SeekTable:
    """Where each data frame is: ``starts[i]`` in the file, ``plain[i]`` in the part."""

    starts: tuple[int, ...]
    sizes: tuple[int, ...]
    plain: tuple[int, ...]
    plain_sizes: tuple[int, ...]
    checksums: tuple[bytes, ...]
    table_start: int

    @property
    def total(self) -> int:
        """The part's plain size."""
        return self.plain[-1] + self.plain_sizes[-1] if self.plain else 0


def is_seekable(head: bytes) -> bool:
    """Whether a part file starting with ``head`` is in this format (starts with a skippable
    frame); ``False`` for a part written before it (starts with a zstd frame)."""
    return len(head) >= 4 and (struct.unpack_from("<I", head)[0] & 0xFFFFFFF0) == 0x184D2A50


def encode(entries: list[tuple[int, int, bytes]], name: str) -> tuple[bytes, bytes]:
    """The header and the seek table frame for data frames ``(compressed, plain, checksum)``
    of the part named ``name`` (its SHA-256, hex)."""
    rows = [(HEADER_SIZE, 0, EMPTY_CHECKSUM), *entries]
    body = b"".join(struct.pack("<II", c, d) + checksum for c, d, checksum in rows)
    body += struct.pack("<IBI", len(rows), DESCRIPTOR, SEEKABLE_MAGIC)
    table = struct.pack("<II", TABLE_MAGIC, len(body)) + body
    header = struct.pack("<II", HEADER_MAGIC, HEADER_SIZE - 8) + TAG + _digest(name, table)
    return header, table


def _digest(name: str, table: bytes) -> bytes:
    return hashlib.sha256(TAG + name.encode("ascii") + table).digest()


def table_size(footer: bytes) -> int:
    """The seek table frame's size, from the file's last :data:`FOOTER_SIZE` bytes."""
    if len(footer) != FOOTER_SIZE:
        raise SeekTableError("is truncated (too short to hold a seek table)")
    count, descriptor, magic = struct.unpack("<IBI", footer)
    if magic != SEEKABLE_MAGIC:
        raise SeekTableError("is truncated or damaged (no seek table at its end)")
    if descriptor != DESCRIPTOR or count < 2:
        raise SeekTableError("has a damaged seek table footer")
    return 8 + int(count) * ENTRY_SIZE + FOOTER_SIZE


def decode(header: bytes, table: bytes, file_size: int, name: str) -> SeekTable:
    """Check the header and seek table of a part file of ``file_size`` bytes named ``name``.

    :raises SeekTableError: if either is damaged, belongs to another part, or does not add up
        to the file's size.
    """
    if (
        len(header) != HEADER_SIZE
        or struct.unpack_from("<II", header) != (HEADER_MAGIC, HEADER_SIZE - 8)
        or header[8 : 8 + len(TAG)] != TAG
    ):
        raise SeekTableError("has a damaged header")
    if header[8 + len(TAG) :] != _digest(name, table):
        raise SeekTableError(
            "has a seek table that does not match its header (damaged, or another part's)"
        )
    magic, length = struct.unpack_from("<II", table)
    count = (len(table) - 8 - FOOTER_SIZE) // ENTRY_SIZE
    if magic != TABLE_MAGIC or length != len(table) - 8:
        raise SeekTableError("has a damaged seek table frame")
    rows = [struct.unpack_from("<II4s", table, 8 + i * ENTRY_SIZE) for i in range(count)]
    if rows[0] != (HEADER_SIZE, 0, EMPTY_CHECKSUM):
        raise SeekTableError("has a seek table that does not list its header")
    starts, plain = [], []
    position, offset = HEADER_SIZE, 0
    for compressed, size, _checksum in rows[1:]:
        if size > MAX_FRAME:
            raise SeekTableError("has a seek table entry larger than a frame may be")
        starts.append(position)
        plain.append(offset)
        position += compressed
        offset += size
    if position + len(table) != file_size:
        raise SeekTableError("has frames that do not add up to its size (truncated or extended)")
    return SeekTable(
        tuple(starts),
        tuple(r[0] for r in rows[1:]),
        tuple(plain),
        tuple(r[1] for r in rows[1:]),
        tuple(r[2] for r in rows[1:]),
        position,
    )
