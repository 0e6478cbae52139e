"""Cutting a part's canonical JSON Lines into chunks, the same way in every store.

A store that keeps parts as chunks (:class:`snapkit.store.ChunkedPartReader`) cuts them with
:class:`LineCutter`, so a table cuts into the same chunks whatever the store: an unchanged run
of rows gives the same chunks after rows were inserted, changed or removed elsewhere, and a
diff between snapshots skips the chunks both share. Where a chunk ends depends only on the
lines themselves: a line ends a chunk when a CRC-32 of it falls under a threshold
proportional to its length, with a minimum and a maximum chunk size (the content-defined
chunking of restic and borg, on whole lines). ``docs/snapshots.md`` has the measurements
behind :data:`CHUNK_TARGET`.
"""

from __future__ import annotations

import hashlib
import zlib

from snapkit.errors import StoreError

CHUNK_TARGET = 768
"""The chunk size (plain bytes, on average) stores use by default: about 1 KB per chunk with
the minimum of a quarter of it added. Small chunks share the most between daily snapshots;
``docs/snapshots.md`` ("Choosing chunk_size") has the measurements."""

MIN_CHUNK_TARGET = 64
"""The smallest chunk target a store accepts."""

MIN_CHUNKS = 64
"""Parts smaller than this many chunk targets (48 KiB at the default) are best stored whole:
a chunk list would cost more than it could save."""


class LineCutter:
    """Cuts bytes into chunks of whole lines at content-defined boundaries.

    A line (with its ``\\n``) of ``n`` bytes ends a chunk when the chunk holds at least
    ``target // 4`` bytes and the CRC-32 of the line is below ``n * 2**32 / target``
    (a chunk then averages about ``target`` bytes), or when the chunk reaches ``8 * target``.
    Feed it the part's bytes in pieces of any size; the chunks do not depend on the pieces.

    :raises snapkit.errors.StoreError: if ``target`` is below :data:`MIN_CHUNK_TARGET`.
    """

    def __init__(self, target: int = CHUNK_TARGET) -> None:
        if target < MIN_CHUNK_TARGET:
            raise StoreError(
                f"chunk size {target} is too small", hint=f"use {MIN_CHUNK_TARGET} bytes or more"
            )
        self._scale = (1 << 32) / target
        self._min = target // 4
        self._max = target * 8
        self._carry = b""
        self._lines: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[tuple[bytes, int]]:
        """Take the next bytes; return the chunks completed, ``(bytes, rows)`` each."""
        lines = (self._carry + data).split(b"\n") if self._carry else data.split(b"\n")
        self._carry = lines.pop()
        out: list[tuple[bytes, int]] = []
        held = self._lines
        size = self._size
        scale, low, high = self._scale, self._min, self._max
        crc32 = zlib.crc32
        for line in lines:
            n = len(line) + 1
            held.append(line)
            size += n
            if size >= high or (size >= low and crc32(line) < n * scale):
                held.append(b"")
                out.append((b"\n".join(held), len(held) - 1))
                held = []
                size = 0
        self._lines = held
        self._size = size
        return out

    def finish(self) -> list[tuple[bytes, int]]:
        """The last chunk (a last line without ``\\n`` included as it is), if any."""
        if self._carry:
            self._lines.append(self._carry)
            data = b"\n".join(self._lines)
            rows = len(self._lines)
        elif self._lines:
            data = b"\n".join([*self._lines, b""])
            rows = len(self._lines)
        else:
            return []
        self._lines, self._carry, self._size = [], b"", 0
        return [(data, rows)]


class PartCutter:
    """What a chunking store's part writer does with the bytes it is given: hashes them (the
    part's SHA-256 is its name), counts them, holds them while the part is smaller than
    :data:`MIN_CHUNKS` chunk targets (a small part is stored whole: :attr:`held`) and cuts
    the rest with :class:`LineCutter`.

    :raises snapkit.errors.StoreError: if ``target`` is below :data:`MIN_CHUNK_TARGET`.
    """

    def __init__(self, target: int = CHUNK_TARGET) -> None:
        self._cutter = LineCutter(target)
        self._min_size = MIN_CHUNKS * target
        self._hash = hashlib.sha256()
        self.size = 0
        """Bytes fed so far."""
        self.held: list[bytes] | None = []
        """The bytes fed while the part is still small; ``None`` once it is being cut."""

    def feed(self, data: bytes) -> list[tuple[bytes, int]]:
        """Take the part's next bytes; return the chunks completed, ``(bytes, rows)`` each
        (none while the part is still small)."""
        self._hash.update(data)
        self.size += len(data)
        if self.held is not None:
            self.held.append(data)
            if self.size < self._min_size:
                return []
            data, self.held = b"".join(self.held), None
        return self._cutter.feed(data)

    def finish(self) -> list[tuple[bytes, int]]:
        """The last chunks of a part being cut (none for a small part: see :attr:`held`)."""
        return [] if self.held is not None else self._cutter.finish()

    def hexdigest(self) -> str:
        """The SHA-256 of the bytes fed so far (the part's name once all are fed)."""
        return self._hash.hexdigest()


def cut(data: bytes, target: int = CHUNK_TARGET) -> list[tuple[bytes, int]]:
    """All the chunks of ``data``, ``(bytes, rows)`` each, as :class:`LineCutter` cuts them."""
    cutter = LineCutter(target)
    return [*cutter.feed(data), *cutter.finish()]


# -- chunk list encoding: the plain-bytes pieces every store's chunk list uses -------------------


def put_varint(out: bytearray, value: int) -> None:
    """Append ``value`` (0 or more) to ``out`` as a LEB128 varint (7 bits a byte, low first)."""
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)


def read_varints(data: bytes) -> list[int]:
    """The LEB128 varints ``data`` holds, in order.

    :raises ValueError: if a varint is longer than 64 bits or ``data`` ends inside one.
    """
    values: list[int] = []
    value = shift = 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        if byte & 0x80:
            shift += 7
            if shift > 63:
                raise ValueError("a varint longer than 64 bits")
            continue
        values.append(value)
        value = shift = 0
    if shift:
        raise ValueError("the data ends inside a varint")
    return values


def zigzag(value: int) -> int:
    """A signed integer as an unsigned one, small either side of 0 (0, -1, 1 -> 0, 1, 2)."""
    return value * 2 if value >= 0 else -value * 2 - 1


def unzigzag(value: int) -> int:
    """The signed integer :func:`zigzag` made ``value`` from."""
    return value >> 1 if not value & 1 else -((value + 1) >> 1)
