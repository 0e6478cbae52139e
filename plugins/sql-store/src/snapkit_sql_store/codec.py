"""How a part's bytes become stored chunks and back, with no database in sight.

A part is stored as one zstd frame (with zstd's content checksum) cut into chunks of at most
:data:`CHUNK_BYTES` compressed bytes, or, with compression level 0, as its plain bytes cut the
same way (codec ``raw``). :class:`ChunkEncoder` hashes the plain bytes and compresses them in
one pass, handing out full chunks as they fill, so memory stays at about one chunk whatever the
part's size. :class:`ChunkDecoder` turns the chunks back into plain blocks (feeding the
decompressor small slices, so one step's output stays small) and checks, at the end, that the
frame is complete and the SHA-256 of the plain bytes equals the part's name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import zstandard

from snapkit.errors import CorruptSnapshotError

CHUNK_BYTES = 1 << 20
"""Stored bytes per chunk row (the last chunk of a part may be shorter)."""

ZSTD = "zstd"
RAW = "raw"
CODECS = (ZSTD, RAW)

_STEP = 1 << 16
"""Compressed bytes fed to the decompressor at a time (bounds one step's output)."""


def corrupt(sha256: str, what: str) -> CorruptSnapshotError:
    """The error for a stored part that is damaged: which part, and what is wrong."""
    return CorruptSnapshotError(
        f"stored part {sha256} {what}",
        hint="run `snapkit snapshots verify` and refresh to rewrite the part",
    )


class ChunkEncoder:
    """Hashes a part's plain bytes and turns them into chunks to store.

    :param level: the zstd level (1-22), or 0 to store the plain bytes (codec ``raw``).
    """

    def __init__(self, level: int) -> None:
        self.codec = ZSTD if level > 0 else RAW
        self._compressor: Any = (
            zstandard.ZstdCompressor(level=level, write_checksum=True).compressobj()
            if level > 0
            else None
        )
        self._hash = hashlib.sha256()
        self._buffer = bytearray()
        self.size = 0
        """Plain bytes fed so far."""

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Take more plain bytes; yield every chunk that is now full."""
        self._hash.update(data)
        self.size += len(data)
        self._buffer += self._compressor.compress(data) if self._compressor else data
        yield from self._full_chunks()

    def finish(self) -> Iterator[bytes]:
        """End the part: yield the remaining chunks (an empty raw part has none)."""
        if self._compressor is not None:
            self._buffer += self._compressor.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)
        yield from self._full_chunks()
        if self._buffer:
            yield bytes(self._buffer)
            self._buffer.clear()

    def _full_chunks(self) -> Iterator[bytes]:
        while len(self._buffer) >= CHUNK_BYTES:
            chunk = bytes(self._buffer[:CHUNK_BYTES])
            del self._buffer[:CHUNK_BYTES]
            yield chunk

    @property
    def sha256(self) -> str:
        """The SHA-256 (hex) of the plain bytes fed so far."""
        return self._hash.hexdigest()


class ChunkDecoder:
    """Turns a stored part's chunks back into its plain bytes and checks them at the end.

    :param codec: ``zstd`` or ``raw``, as the part was stored.
    :param sha256: the part's name: the SHA-256 its plain bytes must have.
    :param verify: check the SHA-256 at the end. ``False`` skips it when the zstd frame carries
        a content checksum (every frame this store writes does): zstd then checks the XXH64 of
        the plain bytes at the frame's end, which catches damage but not a part swapped for
        another well-formed one. Raw parts are always hashed.
    """

    def __init__(self, codec: str, sha256: str, *, verify: bool = True) -> None:
        if codec not in CODECS:
            raise corrupt(sha256, f"has an unknown codec {codec!r}")
        self._codec = codec
        self._expected = sha256
        self._verify = verify or codec == RAW
        self._decompressor: Any = (
            zstandard.ZstdDecompressor().decompressobj() if codec == ZSTD else None
        )
        self._hash: Any = None
        self._started = False
        self.size = 0
        """Plain bytes produced so far."""

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """Take the next stored chunk; yield the plain blocks it holds.

        :raises CorruptSnapshotError: if the bytes do not decompress or fail zstd's checksum.
        """
        if not self._started:
            self._started = True
            if self._verify or not _has_content_checksum(chunk):
                self._hash = hashlib.sha256()
        if self._decompressor is None:
            yield from self._out(chunk)
            return
        view = memoryview(chunk)
        for start in range(0, len(view), _STEP):
            if self._decompressor.eof:
                raise corrupt(self._expected, "has bytes after the end of its zstd frame")
            try:
                out = self._decompressor.decompress(view[start : start + _STEP])
            except zstandard.ZstdError as exc:
                if "checksum" in str(exc):
                    raise corrupt(
                        self._expected, "does not match its zstd content checksum"
                    ) from None
                raise corrupt(self._expected, f"does not decompress ({exc})") from None
            yield from self._out(out)

    def _out(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        if self._hash is not None:
            self._hash.update(data)
        self.size += len(data)
        yield data

    def finish(self) -> str | None:
        """Check the end of the part; return the SHA-256 of the plain bytes if it was computed.

        :raises CorruptSnapshotError: if the zstd frame is incomplete or the SHA-256 differs.
        """
        if self._hash is None and not self._started:
            self._hash = hashlib.sha256()  # no chunk at all: an empty raw part, or a cut one
        if self._decompressor is not None and not self._decompressor.eof:
            raise corrupt(self._expected, "is truncated (its zstd frame is incomplete)")
        if self._hash is None:
            return None
        digest: str = self._hash.hexdigest()
        if digest != self._expected:
            raise corrupt(self._expected, "does not match its SHA-256")
        return digest


def _has_content_checksum(head: bytes) -> bool:
    """Whether the zstd frame starting ``head`` says it ends with a content checksum."""
    try:
        return bool(zstandard.get_frame_parameters(head).has_checksum)
    except zstandard.ZstdError:
        return False  # not a frame header: decompressing reports the damage
