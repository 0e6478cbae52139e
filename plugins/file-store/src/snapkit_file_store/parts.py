"""Parts on disk: zstd-compressed canonical JSON Lines, named by the SHA-256 of the plain bytes.

:class:`ZstdPartWriter` hashes and compresses in one pass while the kernel streams bytes in, so
memory does not grow with the part. :func:`open_part_file` decompresses as it is read, and
:func:`hash_part_file` re-hashes a stored part for ``verify``.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path
from typing import Any, BinaryIO

import zstandard
from snapkit.errors import CorruptSnapshotError, StoreError

from snapkit_file_store.atomic import FILE_MODE, temp_name

_CHUNK = 1 << 16
_READ_CHUNK = 1 << 14
"""Compressed bytes fed to the decompressor at a time (bounds the output of one step)."""


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
        self._stream.flush(zstandard.FLUSH_FRAME)
        self._stream.close()
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


class _PartReader(io.RawIOBase):
    """Decompresses a stored part as it is read and checks it when the end is reached.

    At the end of the compressed file the zstd frame must be complete and the SHA-256 of
    everything read must equal the part's name; otherwise :class:`CorruptSnapshotError` is
    raised, so a damaged part never reads as a shorter, valid-looking one.
    """

    def __init__(self, path: Path, expected: str | None) -> None:
        super().__init__()
        self._raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._path = path
        self._expected = expected
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._hash = hashlib.sha256()
        self._size = 0
        self._pending = memoryview(b"")
        self._pos = 0
        self._done = False
        self._error: CorruptSnapshotError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        # A damage error sticks: a buffered reader that already holds some bytes may drop
        # the first raise, so every later read raises it again instead of reporting EOF.
        if self._error is not None:
            raise self._error
        while self._pos >= len(self._pending) and not self._done:
            try:
                self._fill()
            except CorruptSnapshotError as exc:
                self._error = exc
                raise
        count = min(len(buffer), len(self._pending) - self._pos)
        buffer[:count] = self._pending[self._pos : self._pos + count]
        self._pos += count
        return count

    def _fill(self) -> None:
        chunk = self._raw.read(_READ_CHUNK)
        if chunk:
            try:
                out = self._dobj.decompress(chunk)
            except zstandard.ZstdError as exc:
                raise self._corrupt(f"does not decompress ({exc})") from None
            self._hash.update(out)
            self._size += len(out)
            self._pending = memoryview(out)
            self._pos = 0
            return
        self._done = True
        if not self._dobj.eof:
            raise self._corrupt("is truncated (its zstd frame is incomplete)")
        if self._expected is not None and self._hash.hexdigest() != self._expected:
            raise self._corrupt("does not match its SHA-256")

    def _corrupt(self, what: str) -> CorruptSnapshotError:
        return CorruptSnapshotError(
            f"stored part {self._path.name} {what}",
            hint="run `snapkit snapshots verify` and refresh to rewrite the part",
        )

    def result(self) -> tuple[str, int]:
        """Read to the end (checking completeness) and return the SHA-256 and size."""
        while not self._done:
            self._fill()
        return self._hash.hexdigest(), self._size

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def open_part_file(path: Path, sha256: str) -> BinaryIO:
    """Open a stored part for streaming reads of its uncompressed bytes (buffered, readline).

    Reading to the end raises :class:`CorruptSnapshotError` if the part is damaged.
    """
    return io.BufferedReader(_PartReader(path, sha256), buffer_size=_CHUNK)


def hash_part_file(path: Path) -> tuple[str, int]:
    """Decompress a stored part and return the SHA-256 and size of its plain bytes.

    :raises CorruptSnapshotError: if the file is not one complete zstd frame.
    """
    reader = _PartReader(path, None)
    try:
        return reader.result()
    finally:
        reader.close()
