"""Pack files: the chunks a part stored new, as zstd frames, named by the SHA-256 of the file.

A pack is a plain run of zstd frames, each with its content size and content checksum
(XXH64), each holding consecutive new chunks of one part up to about :data:`PACK_FRAME`
plain bytes (so that small chunks still compress as well as a 1 MiB frame of the table).
Nothing else is in the file: the chunk lists say where each chunk is (frame start, frame
size, offset in the frame), and the file's name is the SHA-256 of all its bytes, which
``verify`` checks. :class:`PackWriter` stages a pack as a part is written;
:class:`FrameReader` decompresses and checks the frames chunks are read from.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zstandard

from snapkit.errors import CorruptSnapshotError
from snapkit_file_store.atomic import FILE_MODE, temp_name

PACK_FRAME = 1 << 20
"""Plain bytes of new chunks a pack frame aims for (a frame ends with the chunk reaching it)."""
MAX_FRAME = 1 << 30
_CACHED_FRAMES = 2


class PackWriter:
    """Stages one pack: chunks are appended to a frame, frames to a temp file.

    ``add`` returns where the chunk will be (frame start, offset in the frame) and the
    frame's compressed size is known when the frame ends, so the caller asks
    :meth:`frame_size` after :meth:`close` or when :meth:`add` reports a finished frame.
    """

    def __init__(self, staging: Path, level: int, tag: str) -> None:
        self._staging = staging
        self._path = staging / temp_name("pack", tag)
        self._compressor = zstandard.ZstdCompressor(level=level, write_checksum=True)
        self._file: Any | None = None
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0
        self.written = 0
        self.frames: dict[int, int] = {}
        """Compressed size of each finished frame, by its start."""
        self.name: str | None = None

    @property
    def frame_start(self) -> int:
        """Where the frame being filled will start."""
        return self.written

    def add(self, chunk: bytes) -> tuple[int, int]:
        """Append a chunk; return ``(frame start, offset in frame)``."""
        where = (self.written, self._pending_size)
        self._pending.append(chunk)
        self._pending_size += len(chunk)
        if self._pending_size >= PACK_FRAME:
            self._end_frame()
        return where

    def _end_frame(self) -> None:
        if not self._pending:
            return
        if self._file is None:
            fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
            self._file = os.fdopen(fd, "wb")
        frame = self._compressor.compress(b"".join(self._pending))
        self._file.write(frame)
        self._hash.update(frame)
        self.frames[self.written] = len(frame)
        self.written += len(frame)
        self._pending = []
        self._pending_size = 0

    def close(self) -> str | None:
        """Finish the pack: made durable in staging as ``<sha256>.pack``; return its name,
        or ``None`` if it holds no chunk (nothing is written then)."""
        self._end_frame()
        if self._file is None:
            return None
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None
        self.name = self._hash.hexdigest()
        os.replace(self._path, self._staging / f"{self.name}.pack")
        return self.name

    def discard(self) -> None:
        """Close and remove the unfinished pack."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)


def corrupt_pack(name: str, what: str) -> CorruptSnapshotError:
    """The error for a damaged or missing pack."""
    return CorruptSnapshotError(
        f"pack {name} {what}",
        hint="run `snapkit snapshots verify` and refresh to write the chunks again",
    )


class FrameReader:
    """Reads and checks pack frames, keeping the last few decompressed (chunks of one frame
    are read together). Open packs stay open until :meth:`close`."""

    def __init__(self, pack_path: Callable[[str], Path]) -> None:
        self._pack_path = pack_path
        self._files: dict[str, Any] = {}
        self._frames: OrderedDict[tuple[str, int], bytes] = OrderedDict()

    def frame(self, pack: str, start: int, size: int) -> bytes:
        """The plain bytes of the frame at ``start`` (``size`` compressed bytes) of ``pack``.

        :raises CorruptSnapshotError: if the pack is missing, or the frame is not one complete
            zstd frame with a content checksum that matches its content.
        """
        key = (pack, start)
        cached = self._frames.get(key)
        if cached is not None:
            self._frames.move_to_end(key)
            return cached
        raw = self._files.get(pack)
        if raw is None:
            try:
                raw = open(self._pack_path(pack), "rb")  # noqa: SIM115 - closed in close()
            except FileNotFoundError:
                raise corrupt_pack(pack, "is missing") from None
            self._files[pack] = raw
        data = os.pread(raw.fileno(), size, start)
        plain = decompress_frame(data, size, pack, start)
        self._frames[key] = plain
        if len(self._frames) > _CACHED_FRAMES:
            self._frames.popitem(last=False)
        return plain

    def close(self) -> None:
        for raw in self._files.values():
            raw.close()
        self._files.clear()
        self._frames.clear()


def decompress_frame(data: bytes, size: int, pack: str, start: int) -> bytes:
    """Decompress one pack frame, checking it is whole and carries a content checksum."""
    if len(data) != size:
        raise corrupt_pack(pack, f"is truncated (frame at {start} is incomplete)")
    try:
        parameters = zstandard.get_frame_parameters(data)
        if not parameters.has_checksum:
            raise corrupt_pack(pack, f"has a frame at {start} without its checksum")
        decompressor = zstandard.ZstdDecompressor().decompressobj()
        plain = decompressor.decompress(data)
    except zstandard.ZstdError as exc:
        raise corrupt_pack(
            pack, f"has a frame at {start} that does not decompress ({exc})"
        ) from None
    if not decompressor.eof or decompressor.unused_data:
        raise corrupt_pack(pack, f"has a frame at {start} that does not match its chunk lists")
    return plain


def hash_pack_file(path: Path) -> str:
    """The SHA-256 of a pack file's bytes (its name, when intact)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
