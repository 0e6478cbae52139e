"""Parts on disk: zstd-compressed canonical JSON Lines, named by the SHA-256 of the plain bytes.

:class:`ZstdPartWriter` hashes and compresses in one pass while the kernel streams bytes in, so
memory does not grow with the part: the bytes are cut into independent zstd frames of whole
lines (about 1 MiB of plain data each), each with its content size and zstd's content
checksum (XXH64), followed by a seek table (the zstd seekable format, with a checked header:
:mod:`snapkit_file_store.seekable`). The part's name is the SHA-256 of the plain bytes, as it
was when parts were one frame, so snapshot ids do not depend on how a part is framed.
:func:`open_part_file` decompresses as it is read and checks the SHA-256 at the end;
:func:`part_file_blocks` hands out the decompressor's blocks as they come, with the SHA-256
optional (scans that trust the frame checksums skip it); :func:`part_file_ranges` reads byte
ranges by decompressing only the frames holding them; :func:`hash_part_file` re-hashes a
stored part for ``verify``. Parts written before the seekable format (one frame, no table)
are read as before: from the start.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from bisect import bisect_right
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast

import zstandard

from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit_file_store import seekable
from snapkit_file_store.atomic import FILE_MODE, temp_name

_CHUNK = 1 << 16
_UNKNOWN = zstandard.CONTENTSIZE_UNKNOWN
_READ_CHUNK = 1 << 14
"""Compressed bytes fed to the decompressor at a time (bounds the output of one step: for
canonical JSON Lines, which compress 10-25x, about 0.15-0.4 MiB)."""


class _CountingFile:
    """Where the compressor writes: the staged file, counting bytes and keeping the last 4
    (a frame's end is its content checksum)."""

    def __init__(self, file: BinaryIO) -> None:
        self.file = file
        self.written = 0
        self.tail = b""

    def write(self, data: bytes) -> int:
        self.file.write(data)
        self.written += len(data)
        self.tail = (self.tail + bytes(data[-4:]))[-4:]
        return len(data)


class ZstdPartWriter:
    """Writes one staged part: hashes the uncompressed bytes, compresses them to a temp file.

    The bytes are cut into frames of whole lines: a frame ends with the line that brings it
    to ``frame_size`` bytes (:data:`~snapkit_file_store.seekable.FRAME_SIZE`), each frame
    compressed on its own with zstd's content checksum; the file ends with a seek table (the
    format is :mod:`snapkit_file_store.seekable`). Bytes stream through the compressor, so
    memory does not grow with the part or the frame. After :meth:`close`, the staged file is
    ``<staging>/<sha256>.zst``; the transaction moves it into ``parts/`` at commit.
    """

    def __init__(
        self, staging: Path, level: int, tag: str, *, frame_size: int = seekable.FRAME_SIZE
    ) -> None:
        if not 1 <= frame_size <= seekable.MAX_FRAME:
            raise StoreError(
                f"frame size {frame_size} is out of range",
                hint=f"use 1 to {seekable.MAX_FRAME} bytes",
            )
        self._staging = staging
        self._path = staging / temp_name("part", tag)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._file = os.fdopen(self._fd, "wb")
        self._file.write(bytes(seekable.HEADER_SIZE))  # the header is written at close
        self._out = _CountingFile(self._file)
        compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._stream = compressor.stream_writer(cast(BinaryIO, self._out), closefd=False)
        self._frame_size = frame_size
        self._in_frame = 0  # plain bytes in the current frame
        self._frame_start = 0  # compressed bytes written before the current frame
        self._entries: list[tuple[int, int, bytes]] = []
        self._hash = hashlib.sha256()
        self._size = 0
        self._closed = False

    def write(self, data: bytes) -> None:
        """Append uncompressed bytes to the part."""
        if self._closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        self._hash.update(data)
        self._size += len(data)
        if not isinstance(data, bytes | bytearray):
            data = bytes(data)
        view = memoryview(data)
        position = 0
        while position < len(data):
            # the frame ends at the first line end at or past its target size, or at the cap
            start = position + max(self._frame_size - 1 - self._in_frame, 0)
            end = data.find(b"\n", start) if start < len(data) else -1
            cap = seekable.MAX_FRAME - self._in_frame
            if end < 0 or end + 1 - position > cap:
                if len(data) - position < cap:
                    self._stream.write(view[position:])
                    self._in_frame += len(data) - position
                    return
                take = cap
            else:
                take = end + 1 - position
            self._stream.write(view[position : position + take])
            self._in_frame += take
            self._end_frame()
            position += take

    def _end_frame(self) -> None:
        self._stream.flush(zstandard.FLUSH_FRAME)
        self._entries.append(
            (self._out.written - self._frame_start, self._in_frame, self._out.tail)
        )
        self._frame_start = self._out.written
        self._in_frame = 0

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and uncompressed size in bytes."""
        if self._closed:
            raise StoreError("part writer is already closed")
        self._closed = True
        if self._in_frame or not self._entries:  # an empty part has one empty frame
            self._end_frame()
        digest = self._hash.hexdigest()
        header, table = seekable.encode(self._entries, digest)
        self._file.write(table)
        self._file.seek(0)
        self._file.write(header)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._path, self._staging / f"{digest}.zst")
        return digest, self._size

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""
        self.discard()

    def discard(self) -> None:
        """Close and remove an unfinished part (used by abort)."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            self._file.close()
        self._path.unlink(missing_ok=True)


class _PartDecoder:
    """Decompresses a stored part block by block and checks it when the end is reached.

    A part in the seekable format (:mod:`snapkit_file_store.seekable`) is read frame by frame
    from its checked seek table: each frame must be complete, hold the plain size the table
    says and carry the table's checksum, which zstd checks against its content. A part
    written before that format is one zstd frame, which must be complete at the end of the
    file. In both cases (when hashing) the SHA-256 of everything read must equal the part's
    name. Otherwise :class:`CorruptSnapshotError` is raised, so a damaged part never reads as
    a shorter, valid-looking one. An error sticks: every later read raises it again.

    ``verify=False`` skips the SHA-256 when every frame carries zstd's content checksum (every
    part this store writes does): zstd then checks the XXH64 of each frame's plain bytes,
    which catches damage (a flipped bit, a cut) but not a file swapped for another
    well-formed part. A frame without a content checksum is hashed whatever ``verify`` says
    (an old single-frame part; the seekable format requires checksums).
    """

    def __init__(self, path: Path, expected: str | None, *, verify: bool = True) -> None:
        self._raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._path = path
        self._expected = expected
        self._verify = verify or expected is None
        self._hash: Any = None
        self.size = 0
        self.done = False
        self._error: CorruptSnapshotError | None = None
        self._blocks: Iterator[bytes] | None = None

    def read_block(self) -> bytes:
        """Return the next decompressed bytes, or ``b""`` once the part is read and checked.

        :raises CorruptSnapshotError: if the part is damaged (at the latest, at its end).
        """
        if self._error is not None:
            raise self._error
        try:
            if self._blocks is None:
                self._blocks = self._start()
            while not self.done:
                out = next(self._blocks, None)
                if out is None:
                    self._finish()
                    return b""
                if out:
                    if self._hash is not None:
                        self._hash.update(out)
                    self.size += len(out)
                    return out
        except CorruptSnapshotError as exc:
            self._error = exc
            raise
        return b""

    def _start(self) -> Iterator[bytes]:
        head = self._raw.read(seekable.HEADER_SIZE)
        if not seekable.is_seekable(head):
            return self._single_frame(head)
        table = load_table(self._raw, head, self._path, self._expected)
        if self._verify:
            self._hash = hashlib.sha256()
        return self._frames(table)

    def _frames(self, table: seekable.SeekTable) -> Iterator[bytes]:
        for number in range(len(table.starts)):
            yield from frame_blocks(self._raw, table, number, self._path)

    def _single_frame(self, head: bytes) -> Iterator[bytes]:
        """A part written before the seekable format: one zstd frame, read to its end."""
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        chunk = head + self._raw.read(_READ_CHUNK)
        if chunk and (self._verify or not _has_content_checksum(chunk)):
            self._hash = hashlib.sha256()
        while chunk:
            try:
                yield decompressor.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise _decompress_error(self._path, exc, None) from None
            chunk = self._raw.read(_READ_CHUNK)
        if not decompressor.eof:
            raise _corrupt(self._path, "is truncated (its zstd frame is incomplete)")

    def _finish(self) -> None:
        self.done = True
        if self._hash is None and self._verify:
            self._hash = hashlib.sha256()  # an empty file: the error above was raised first
        if (
            self._expected is not None
            and self._hash is not None
            and self._hash.hexdigest() != self._expected
        ):
            raise _corrupt(self._path, "does not match its SHA-256")

    def result(self) -> tuple[str, int]:
        """Read to the end (checking completeness) and return the SHA-256 and size."""
        while self.read_block():
            pass
        return self._hash.hexdigest(), self.size

    def close(self) -> None:
        self._raw.close()


def _corrupt(path: Path, what: str) -> CorruptSnapshotError:
    return CorruptSnapshotError(
        f"stored part {path.name} {what}",
        hint="run `snapkit snapshots verify` and refresh to rewrite the part",
    )


def _decompress_error(path: Path, exc: Exception, number: int | None) -> CorruptSnapshotError:
    where = "" if number is None else f" (frame {number})"
    if "checksum" in str(exc):
        return _corrupt(path, f"does not match its zstd content checksum{where}")
    return _corrupt(path, f"does not decompress{where} ({exc})")


def load_table(raw: BinaryIO, head: bytes, path: Path, name: str | None) -> seekable.SeekTable:
    """Read and check the seek table of the seekable part open as ``raw`` (``head``: its
    first bytes). ``name`` is the part's SHA-256; ``None`` takes it from the file name.

    :raises CorruptSnapshotError: if the header or the table is damaged or another part's.
    """
    size = os.fstat(raw.fileno()).st_size
    try:
        if size < len(head) + seekable.FOOTER_SIZE:
            raise seekable.SeekTableError("is truncated (too short to hold a seek table)")
        length = seekable.table_size(_pread(raw, size - seekable.FOOTER_SIZE, seekable.FOOTER_SIZE))
        if length > size - len(head):
            raise seekable.SeekTableError("has a damaged seek table footer")
        table = _pread(raw, size - length, length)
        return seekable.decode(head, table, size, name or path.name.split(".")[0])
    except seekable.SeekTableError as exc:
        raise _corrupt(path, str(exc)) from None


def _pread(raw: BinaryIO, offset: int, length: int) -> bytes:
    return os.pread(raw.fileno(), length, offset)


def frame_blocks(
    raw: BinaryIO, table: seekable.SeekTable, number: int, path: Path
) -> Iterator[bytes]:
    """Decompress frame ``number`` of a seekable part in blocks, checking that it is one
    complete zstd frame of the table's size and plain size, with the table's checksum
    (which zstd checks against the content at its end).

    :raises CorruptSnapshotError: if it is not.
    """
    start, size = table.starts[number], table.sizes[number]
    plain_size = table.plain_sizes[number]
    decompressor = zstandard.ZstdDecompressor().decompressobj()
    read = produced = 0
    tail = b""
    while read < size:
        chunk = _pread(raw, start + read, min(_READ_CHUNK, size - read))
        if not chunk:
            raise _corrupt(path, f"is truncated (frame {number} is incomplete)")
        if read == 0:
            _check_frame_header(chunk, plain_size, number, path)
        read += len(chunk)
        tail = (tail + chunk)[-4:]
        try:
            out = decompressor.decompress(chunk)
        except zstandard.ZstdError as exc:
            raise _decompress_error(path, exc, number) from None
        produced += len(out)
        if out:
            yield out
    if not decompressor.eof or decompressor.unused_data or produced != plain_size:
        raise _corrupt(path, f"has a frame ({number}) that does not match its seek table")
    if tail != table.checksums[number]:
        raise _corrupt(path, f"has a frame ({number}) whose checksum differs from its seek table's")


def _check_frame_header(head: bytes, plain_size: int, number: int, path: Path) -> None:
    try:
        parameters = zstandard.get_frame_parameters(head)
    except zstandard.ZstdError:
        raise _corrupt(
            path, f"has no zstd frame where its seek table puts frame {number}"
        ) from None
    if not parameters.has_checksum or parameters.content_size not in (plain_size, _UNKNOWN):
        raise _corrupt(path, f"has a frame ({number}) that does not match its seek table")


def _has_content_checksum(head: bytes) -> bool:
    """Whether the zstd frame starting ``head`` says it ends with a content checksum."""
    try:
        return bool(zstandard.get_frame_parameters(head).has_checksum)
    except zstandard.ZstdError:
        return False  # not a frame header: decompressing reports the damage


class _PartReader(io.RawIOBase):
    """A stored part's plain bytes as a raw stream (checked with its SHA-256 at the end)."""

    def __init__(self, path: Path, expected: str) -> None:
        super().__init__()
        self._decoder = _PartDecoder(path, expected)
        self._pending = memoryview(b"")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # A damage error sticks (see _PartDecoder): a buffered reader that already holds
        # some bytes may drop the first raise, so every later read raises it again.
        if self._pos >= len(self._pending):
            self._pending = memoryview(self._decoder.read_block())
            self._pos = 0
        count = min(len(buffer), len(self._pending) - self._pos)
        buffer[:count] = self._pending[self._pos : self._pos + count]
        self._pos += count
        return count

    def close(self) -> None:
        if not self.closed:
            self._decoder.close()
        super().close()


def open_part_file(path: Path, sha256: str) -> BinaryIO:
    """Open a stored part for streaming reads of its uncompressed bytes (buffered, readline).

    Reading to the end raises :class:`CorruptSnapshotError` if the part is damaged.
    """
    return io.BufferedReader(_PartReader(path, sha256), buffer_size=_CHUNK)


def part_file_blocks(
    path: Path, sha256: str, *, verify: bool = True
) -> Generator[bytes, None, None]:
    """Yield a stored part's uncompressed bytes in blocks as they are decompressed.

    Blocks are whatever one step of the decompressor gives (tens of KiB to a few MiB; their
    boundaries fall anywhere, even inside a line) and are never copied. The file is opened
    when iteration starts and closed when it ends or the generator is closed.

    :param verify: check the SHA-256 of the plain bytes against ``sha256`` at the end;
        ``False`` relies on the zstd frames' own content checksums and, for a seekable part, its
        checked seek table (see :class:`_PartDecoder`).
    :raises FileNotFoundError: if the part file is missing (when iteration starts).
    :raises CorruptSnapshotError: if the part is damaged (at the latest, at its end).
    """
    decoder = _PartDecoder(path, sha256, verify=verify)
    try:
        while block := decoder.read_block():
            yield block
    finally:
        decoder.close()


def part_file_ranges(path: Path, sha256: str, ranges: Iterable[tuple[int, int]]) -> Iterator[bytes]:
    """Yield the plain bytes ``[offset, offset + length)`` of a stored part for each range,
    in order (shorter only where the part ends; ``b""`` past its end).

    A seekable part is read from its checked seek table: only the frames holding a range are
    decompressed (the last one is kept for the next range), each checked whole (complete,
    its sizes and checksum as the table says, zstd's content checksum). A part written
    before that format is read from its start, as far as the ranges need, checked as
    :func:`part_file_blocks` with ``verify=False`` checks what it has read. The SHA-256 of the
    part is not checked: the caller checks what it uses (the search index's row digests).

    :raises ValueError: if a range starts before the one before it, or has a negative length.
    :raises FileNotFoundError: if the part file is missing (when iteration starts).
    :raises CorruptSnapshotError: if the part, its header or its seek table is damaged.
    """
    with open(path, "rb") as raw:
        head = raw.read(seekable.HEADER_SIZE)
        if not seekable.is_seekable(head):
            raw.close()
            yield from _ranges_in_blocks(part_file_blocks(path, sha256, verify=False), ranges)
            return
        table = load_table(raw, head, path, sha256)
        current, plain = -1, b""
        previous = 0
        for offset, length in ranges:
            check_range(offset, length, previous)
            previous = offset
            end = min(offset + length, table.total)
            pieces = []
            while offset < end:
                number = bisect_right(table.plain, offset) - 1
                if number != current:
                    current, plain = number, b"".join(frame_blocks(raw, table, number, path))
                base = table.plain[number]
                pieces.append(plain[offset - base : end - base])
                offset += len(pieces[-1])
            yield b"".join(pieces)


def check_range(offset: int, length: int, previous: int) -> None:
    if offset < previous or length < 0:
        raise ValueError(
            f"ranges must ascend and have a length >= 0 (got offset {offset}, "
            f"length {length} after offset {previous})"
        )


def _ranges_in_blocks(
    blocks: Generator[bytes, None, None], ranges: Iterable[tuple[int, int]]
) -> Iterator[bytes]:
    """The ranges cut from a part read from its start (for parts without a seek table)."""
    data, position = b"", 0  # position: the part offset of data[0]

    def advance(offset: int) -> None:  # drop what comes before offset (as far as held)
        nonlocal data, position
        skip = min(offset - position, len(data))
        data, position = data[skip:], position + skip

    with contextlib.closing(blocks):
        previous = 0
        for offset, length in ranges:
            check_range(offset, length, previous)
            previous = offset
            advance(offset)
            while position + len(data) < offset + length:
                block = next(blocks, b"")
                if not block:
                    break
                data += block
                advance(offset)
            yield b"" if position < offset else data[offset - position : offset - position + length]


def hash_part_file(path: Path) -> tuple[str, int]:
    """Decompress a stored part and return the SHA-256 and size of its plain bytes.

    :raises CorruptSnapshotError: if the part is damaged: a frame, the header or the seek
        table of a seekable part, or the one frame of a part written before that format.
    """
    decoder = _PartDecoder(path, None)
    try:
        return decoder.result()
    finally:
        decoder.close()
