"""Append-only JSON Lines files of contracts, read incrementally.

The history and the listing index are append-only: each line is one contract in canonical
JSON, written with one fsynced append. :class:`ContractLog` keeps what it has parsed and, on the
next read, parses only the bytes appended since, so reading a 10,000-line index again costs a
``stat``. A line that does not parse is counted as damage (a torn last line, left by a crash
mid-append, is ignored until it is completed).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

from snapkit import convert
from snapkit.errors import ContractError

from snapkit_file_store.atomic import append_line

T = TypeVar("T")


class ContractLog(Generic[T]):
    """One append-only JSON Lines file of ``cls`` contracts, with an incremental read cache."""

    def __init__(
        self, path: Path, cls: type[T], parse: Callable[[bytes], T] | None = None
    ) -> None:
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
        self._lock = threading.Lock()
        self.resets = 0
        """How many times the file was found replaced or shrunk and read again from the start."""

    def append(self, item: T) -> None:
        """Append one item as a line and fsync it."""
        append_line(self.path, convert.dumps(item) + b"\n")

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
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                item = self._parse(line)
            except ContractError:
                self.damaged_lines += 1
                continue
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
