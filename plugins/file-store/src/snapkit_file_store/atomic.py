"""Durable file operations: private directories, atomic replace, fsynced appends.

Every write the store makes goes through here, so every file is created ``0600``, every
directory ``0700``, a replaced file is never seen half-written, and a rename is made durable by
fsyncing the directory that holds it.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def temp_name(prefix: str, tag: str) -> str:
    """Return a unique temp file name ``<prefix>-<tag>-<random>`` (``tag`` names the writer)."""
    return f"{prefix}-{tag}-{secrets.token_hex(6)}"


def make_dir(path: Path) -> bool:
    """Create ``path`` (and missing parents) with mode ``0700``; return whether it was created."""
    if path.is_dir():
        return False
    make_dir(path.parent)
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        return False
    os.chmod(path, DIR_MODE)
    fsync_dir(path.parent)
    return True


def fsync_dir(path: Path) -> None:
    """Make the entries of directory ``path`` durable (after a create, rename or unlink)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new(path: Path, data: bytes) -> None:
    """Write ``data`` to a new private file ``path`` and fsync it (no rename)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomic(target: Path, data: bytes, temp_dir: Path, tag: str) -> None:
    """Replace ``target`` with ``data`` so readers see the old or the new bytes, never a mix.

    The bytes go to a temp file in ``temp_dir`` (same file system), which is fsynced, renamed
    over ``target``; then ``target``'s directory is fsynced.
    """
    temp = temp_dir / temp_name("write", tag)
    try:
        write_new(temp, data)
        os.replace(temp, target)
    except BaseException:
        remove_quietly(temp)
        raise
    fsync_dir(target.parent)


def append_line(path: Path, line: bytes) -> None:
    """Append one line (ending in ``\\n``) to ``path`` with a single write, then fsync it."""
    if not line.endswith(b"\n"):
        line += b"\n"
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        fsync_dir(path.parent)


def remove_quietly(path: Path) -> None:
    """Remove a file or a directory tree if it exists; ignore it if it is already gone."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except FileNotFoundError:
        pass
