"""Append-only JSON Lines files of contracts, read incrementally, each line checked.

The history and the listing index are append-only: each line is one contract in canonical
JSON, written with one fsynced append. Each line starts with a check of its own bytes,
``{"check":"<16 hex>",...}``: the first 16 hex digits of the SHA-256 of the line without it
(the contract's canonical JSON). A line whose check does not match — a flipped byte that still
leaves valid JSON — counts as damage, like a line that does not parse. Lines written before
checks existed (no ``check``) are read as they are and counted in ``unchecked_lines``.

:class:`ContractLog` keeps what it has parsed and, on the next read, parses only the bytes
appended since, so reading a 10,000-line index again costs a ``stat``. A torn last line, left
by a crash mid-append, is ignored until it is completed; the next append first ends it with a
newline, so it becomes one damaged line instead of spoiling the appended one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from snapkit import convert
from snapkit.canonical import sha256_hex
from snapkit.errors import ContractError
from snapkit_file_store.atomic import append_line

T = TypeVar("T")

_CHECK_HEAD = b'{"check":"'
_CHECK_LEN = 16
_CHECKED_PREFIX = len(_CHECK_HEAD) + _CHECK_LEN + 2  # '{"check":"' + 16 hex + '",'


def checked_line(item: object) -> bytes:
    """The line of ``item``: its canonical JSON with a leading check, ending in ``\n``."""
    body = convert.dumps(item)
    check = sha256_hex(body)[:_CHECK_LEN].encode("ascii")
    return _CHECK_HEAD + check + b'",' + body[1:] + b"\n"


def unwrap_line(line: bytes) -> tuple[bytes, bool]:
    """Return a line's contract JSON and whether it carried a check.

    :raises ContractError: if the line has a check and it does not match.
    """
    line = line.rstrip(b"\r\n")
    if not line.startswith(_CHECK_HEAD):
        return line, False
    check = line[len(_CHECK_HEAD) : len(_CHECK_HEAD) + _CHECK_LEN]
    if line[len(_CHECK_HEAD) + _CHECK_LEN : _CHECKED_PREFIX] != b'",':
        raise ContractError("the line's check is malformed")
    body = b"{" + line[_CHECKED_PREFIX:]
    if sha256_hex(body)[:_CHECK_LEN].encode("ascii") != check:
        raise ContractError("the line does not match its check")
    return body, True


class ContractLog(Generic[T]):
    """One append-only JSON Lines file of ``cls`` contracts, with an incremental read cache."""

    def __init__(self, path: Path, cls: type[T], parse: Callable[[bytes], T] | None = None) -> None:
        """Read and append ``cls`` items at ``path``.

        :param parse: a faster parser for one line; it must raise :class:`ContractError` on a
            bad line. Defaults to :func:`snapkit.convert.parse`.
        """
        self.path = path
        self._cls = cls
        self._parse: Callable[[bytes], T] = parse or (lambda line: convert.parse(line, cls))
        self._items: list[T] = []
        self._offset = 0
        self._inode: int | None = None
        self.damaged_lines = 0
        """Lines that do not parse or do not match their check."""
        self.unchecked_lines = 0
        """Lines written without a check (by a version before checks existed)."""
        self.torn_tail = False
        """Whether the file ends in bytes that are not a complete line (a crash mid-append)."""
        self._lock = threading.Lock()
        self.resets = 0
        """How many times the file was found replaced or shrunk and read again from the start."""

    def append(self, item: T) -> None:
        """Append one item as a checked line and fsync it (ending a torn last line first)."""
        line = checked_line(item)
        if _ends_torn(self.path):
            line = b"\n" + line
        append_line(self.path, line)

    def items(self, on_item: Callable[[T], None] | None = None) -> list[T]:
        """Return every item on file, oldest first (parsing only lines new since last call).

        :param on_item: called for each newly parsed item, in file order.
        """
        with self._lock:
            return self._read_new(on_item)

    def _read_new(self, on_item: Callable[[T], None] | None) -> list[T]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self._reset(None)
            return []
        if stat.st_ino != self._inode or stat.st_size < self._offset:
            self._reset(stat.st_ino)
        if stat.st_size == self._offset:
            return self._items
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            data = handle.read(stat.st_size - self._offset)
        end = data.rfind(b"\n") + 1
        self.torn_tail = end < len(data)
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                body, checked = unwrap_line(line)
                item = self._parse(body)
            except ContractError:
                self.damaged_lines += 1
                continue
            if not checked:
                self.unchecked_lines += 1
            self._items.append(item)
            if on_item is not None:
                on_item(item)
        self._offset += end
        return self._items

    def _reset(self, inode: int | None) -> None:
        if self._offset or self._items or inode != self._inode:
            self.resets += 1
        self._items = []
        self._offset = 0
        self._inode = inode
        self.damaged_lines = 0
        self.unchecked_lines = 0
        self.torn_tail = False


def _ends_torn(path: Path) -> bool:
    """Whether ``path`` exists, is not empty and does not end with a newline."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return False
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) != b"\n"
    except FileNotFoundError:
        return False
