"""Parts as objects: zstd-compressed canonical JSON Lines, named by the SHA-256 of the plain bytes.

:class:`SpooledPart` hashes and compresses in one pass while the kernel streams bytes in; the
compressed bytes go to a temporary file that stays in memory only while it is small, so memory
does not grow with the part. At commit the store uploads it (one ``PutObject`` for a small
part, a multipart upload for a large one). :class:`PartDecoder` decompresses a stored part as
its body streams in and checks it at the end: the zstd frame complete, its content checksum,
and (unless skipped) the SHA-256 against the part's name.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Generator, Iterable, Iterator
from typing import IO, Any

import zstandard

from snapkit.errors import CorruptSnapshotError, StoreError

SPOOL_IN_MEMORY = 1 << 20
"""Compressed bytes a staged part keeps in memory before it spills to a temporary file."""

READ_CHUNK = 1 << 16
"""Compressed bytes read from an object body at a time."""


class SpooledPart:
    """One staged part: hashes the uncompressed bytes, compresses them to a spooled file.

    After :meth:`close`, :attr:`sha256`, :attr:`size` (uncompressed), :attr:`stored_bytes` and
    :attr:`md5` (of the compressed bytes, a single ``PutObject``'s ETag) describe it.
    """

    def __init__(self, level: int) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._stream = self._compressor.stream_writer(self.file, closefd=False)
        self._hash = hashlib.sha256()
        self.size = 0
        self.sha256 = ""
        self.md5 = ""
        self.stored_bytes = 0
        self.closed = False
        self.discarded = False

    def write(self, data: bytes) -> None:
        """Append uncompressed bytes to the part."""
        if self.closed:
            raise StoreError("part writer is closed", hint="start a new part_writer()")
        self._hash.update(data)
        self.size += len(data)
        self._stream.write(data)

    def close(self) -> tuple[str, int]:
        """Finish the part; return its SHA-256 (hex) and uncompressed size in bytes."""
        if self.closed:
            raise StoreError("part writer is already closed")
        self.closed = True
        self._stream.close()  # type: ignore[no-untyped-call]
        self.sha256 = self._hash.hexdigest()
        md5 = hashlib.md5(usedforsecurity=False)
        self.file.seek(0)
        while chunk := self.file.read(READ_CHUNK):
            md5.update(chunk)
            self.stored_bytes += len(chunk)
        self.md5 = md5.hexdigest()
        return self.sha256, self.size

    def abort(self) -> None:
        """Discard this part (the engine calls it before retrying a failed stream)."""
        self.discard()

    def discard(self) -> None:
        """Drop the spooled bytes."""
        if self.discarded:
            return
        self.discarded = True
        self.closed = True
        self.file.close()

    def chunks(self, size: int) -> Iterator[bytes]:
        """The compressed bytes in chunks of ``size`` (the last one shorter)."""
        self.file.seek(0)
        while chunk := self.file.read(size):
            yield chunk


class PartDecoder:
    """Decompresses a stored part's body chunk by chunk and checks it when the end is reached.

    At the end the zstd frame must be complete and (when hashing) the SHA-256 of everything
    read must equal the part's name; otherwise :class:`CorruptSnapshotError` is raised, so a
    damaged part never reads as a shorter, valid-looking one. An error sticks.

    ``verify=False`` skips the SHA-256 when the frame carries zstd's content checksum (every
    part this store writes does), which zstd checks at the end of the frame.
    """

    def __init__(
        self, body: Iterator[bytes], name: str, expected: str | None, *, verify: bool = True
    ) -> None:
        self._body = body
        self._name = name
        self._expected = expected
        self._verify = verify or expected is None
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._hash: Any = None
        self._started = False
        self.size = 0
        self.done = False
        self._error: CorruptSnapshotError | None = None

    def read_block(self) -> bytes:
        """Return the next decompressed bytes, or ``b""`` once the part is read and checked."""
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
        chunk = next(self._body, b"")
        if not chunk:
            self._finish()
            return b""
        if not self._started:
            self._started = True
            if self._verify or not _has_content_checksum(chunk):
                self._hash = hashlib.sha256()
        if self._dobj.eof:
            raise self._corrupt("has bytes after its zstd frame")
        try:
            out: bytes = self._dobj.decompress(chunk)
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
        if not self._started:
            self._hash = hashlib.sha256()
        if not self._dobj.eof:
            raise self._corrupt("is truncated (its zstd frame is incomplete)")
        if (
            self._expected is not None
            and self._hash is not None
            and self._hash.hexdigest() != self._expected
        ):
            raise self._corrupt("does not match its SHA-256")

    def _corrupt(self, what: str) -> CorruptSnapshotError:
        return CorruptSnapshotError(
            f"stored part {self._name} {what}",
            hint="run `snapkit snapshots verify` and refresh to rewrite the part",
        )

    def result(self) -> tuple[str, int]:
        """Read to the end (checking completeness) and return the SHA-256 and size."""
        while self.read_block():
            pass
        return self._hash.hexdigest(), self.size


def _has_content_checksum(head: bytes) -> bool:
    try:
        return bool(zstandard.get_frame_parameters(head).has_checksum)
    except zstandard.ZstdError:
        return False


def check_range(offset: int, length: int, previous: int) -> None:
    """Refuse a range that starts before the previous one or has a negative length."""
    if offset < previous or length < 0:
        raise ValueError(
            f"ranges must ascend and have a length >= 0 (got offset {offset}, "
            f"length {length} after offset {previous})"
        )


def ranges_from_start(
    decoder: PartDecoder, ranges: Iterable[tuple[int, int]]
) -> Generator[bytes, None, None]:
    """The ``(offset, length)`` ranges of a whole part, decompressed from its start (a whole
    part is one zstd frame). Once the ranges are served the rest is read too, so the frame's
    completeness and content checksum are checked before the generator ends."""
    held = bytearray()
    position = 0  # the part offset of held[0]
    previous = 0
    for offset, length in ranges:
        check_range(offset, length, previous)
        previous = offset
        end = offset + length
        while position + len(held) < end and (block := decoder.read_block()):
            held += block
            if offset > position:  # drop what comes before the range
                drop = min(offset - position, len(held))
                del held[:drop]
                position += drop
        if offset > position:
            drop = min(offset - position, len(held))
            del held[:drop]
            position += drop
        yield bytes(held[: max(0, end - position)])
    while decoder.read_block():
        pass
