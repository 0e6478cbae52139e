"""Parts on disk: zstd-compressed canonical JSON Lines, named by the SHA-256 of the plain bytes.

:class:`ZstdPartWriter` hashes and compresses in one pass while the kernel streams bytes in, so
memory does not grow with the part; the frame carries zstd's content checksum (XXH64).
:func:`open_part_file` decompresses as it is read and checks the SHA-256 at the end;
:func:`part_file_blocks` hands out the decompressor's blocks as they come, with the SHA-256
optional (scans that trust the frame checksum skip it); :func:`hash_part_file` re-hashes a
stored part for ``verify``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from snapkit.errors import CorruptSnapshotError, StoreError
from snapkit_file_store.atomic import FILE_MODE, temp_name

_CHUNK = 1 << 16
_READ_CHUNK = 1 << 14
"""Compressed bytes fed to the decompressor at a time (bounds the output of one step: for
canonical JSON Lines, which compress 10-25x, about 0.15-0.4 MiB)."""


class ZstdPartWriter:
    """Writes one staged part: hashes the uncompressed bytes, compresses them to a temp file.

    After :meth:`close`, the staged file is ``<staging>/<sha256>.zst``; the transaction moves it
    into ``parts/`` at commit.
    """

    def __init__(self, staging: Path, level: int, tag: str) -> None:
        self._staging = staging
        self._path = staging / temp_name("part", tag)
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        self._file = os.fdopen(self._fd, "wb")
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._stream = self._compressor.stream_writer(self._file, closefd=False)
        self._hash = hashlib.sha256()
        self._size = 0
        self._closed = False

    def write(self, data: bytes) -> None:
        """Append uncompressed bytes to the part."""
        if self._closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        self._hash.update(data)
        self._size += len(data)
        self._stream.write(data)

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and uncompressed size in bytes."""
        if self._closed:
            raise StoreError("part writer is already closed")
        self._closed = True
        self._stream.close()  # ends the frame (a flush(FLUSH_FRAME) first adds an empty one)
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        digest = self._hash.hexdigest()
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
        with contextlib.suppress(OSError, zstandard.ZstdError):
            self._stream.close()
        self._file.close()
        self._path.unlink(missing_ok=True)


class _PartDecoder:
    """Decompresses a stored part block by block and checks it when the end is reached.

    At the end of the compressed file the zstd frame must be complete, and (when hashing)
    the SHA-256 of everything read must equal the part's name; otherwise
    :class:`CorruptSnapshotError` is raised, so a damaged part never reads as a shorter,
    valid-looking one. An error sticks: every later read raises it again.

    ``verify=False`` skips the SHA-256 when the frame carries zstd's content checksum (every
    part this store writes does): zstd then checks the XXH64 of the plain bytes at the end of
    the frame, which catches damage (a flipped bit, a cut) but not a file swapped for another
    well-formed part. A frame without a content checksum is hashed whatever ``verify`` says.
    """

    def __init__(self, path: Path, expected: str | None, *, verify: bool = True) -> None:
        self._raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._path = path
        self._expected = expected
        self._verify = verify or expected is None
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._hash: Any = None
        self._started = False
        self.size = 0
        self.done = False
        self._error: CorruptSnapshotError | None = None

    def read_block(self) -> bytes:
        """Return the next decompressed bytes, or ``b""`` once the part is read and checked.

        :raises CorruptSnapshotError: if the part is damaged (at the latest, at its end).
        """
        if self._error is not None:
            raise self._error
        try:
            while not self.done:
                out = self._step()
                if out:
                    return out
        except CorruptSnapshotError as exc:
            self._error = exc
            raise
        return b""

    def _step(self) -> bytes:
        chunk = self._raw.read(_READ_CHUNK)
        if not chunk:
            self._finish()
            return b""
        if not self._started:
            self._started = True
            if self._verify or not _has_content_checksum(chunk):
                self._hash = hashlib.sha256()
        try:
            out = self._dobj.decompress(chunk)
        except zstandard.ZstdError as exc:
            if "checksum" in str(exc):
                raise self._corrupt("does not match its zstd content checksum") from None
            raise self._corrupt(f"does not decompress ({exc})") from None
        if self._hash is not None:
            self._hash.update(out)
        self.size += len(out)
        return out

    def _finish(self) -> None:
        self.done = True
        if not self._dobj.eof:
            raise self._corrupt("is truncated (its zstd frame is incomplete)")
        if (self._expected is not None and self._hash is not None
                and self._hash.hexdigest() != self._expected):
            raise self._corrupt("does not match its SHA-256")

    def _corrupt(self, what: str) -> CorruptSnapshotError:
        return CorruptSnapshotError(
            f"stored part {self._path.name} {what}",
            hint="run `snapkit snapshots verify` and refresh to rewrite the part",
        )

    def result(self) -> tuple[str, int]:
        """Read to the end (checking completeness) and return the SHA-256 and size."""
        while self.read_block():
            pass
        return self._hash.hexdigest(), self.size

    def close(self) -> None:
        self._raw.close()


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


def part_file_blocks(path: Path, sha256: str, *, verify: bool = True) -> Iterator[bytes]:
    """Yield a stored part's uncompressed bytes in blocks as they are decompressed.

    Blocks are whatever one step of the decompressor gives (tens of KiB to a few MiB; their
    boundaries fall anywhere, even inside a line) and are never copied. The file is opened
    when iteration starts and closed when it ends or the generator is closed.

    :param verify: check the SHA-256 of the plain bytes against ``sha256`` at the end;
        ``False`` relies on the zstd frame's own content checksum (see :class:`_PartDecoder`).
    :raises FileNotFoundError: if the part file is missing (when iteration starts).
    :raises CorruptSnapshotError: if the part is damaged (at the latest, at its end).
    """
    decoder = _PartDecoder(path, sha256, verify=verify)
    try:
        while block := decoder.read_block():
            yield block
    finally:
        decoder.close()


def hash_part_file(path: Path) -> tuple[str, int]:
    """Decompress a stored part and return the SHA-256 and size of its plain bytes.

    :raises CorruptSnapshotError: if the file is not one complete zstd frame.
    """
    decoder = _PartDecoder(path, None)
    try:
        return decoder.result()
    finally:
        decoder.close()
