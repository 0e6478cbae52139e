"""A deterministic ZIP writer: the same members always give the same bytes.

Every member gets the same date (1980-01-01 00:00:00, the earliest a ZIP can hold), the same
permissions (``-rw-r--r--``, Unix), the same compression (deflate at level
:data:`COMPRESS_LEVEL`) and no extra fields; members are written in sorted name order; the
archive is built in a seekable buffer so no data descriptors are used, whatever the
destination is.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from typing import BinaryIO

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6
FILE_MODE = 0o100644
_SPOOL = 32 * 1024 * 1024


def member_info(name: str) -> zipfile.ZipInfo:
    """Return the fixed :class:`zipfile.ZipInfo` of a member called ``name``."""
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so that external_attr means mode bits everywhere
    info.external_attr = FILE_MODE << 16
    return info


def write_zip(members: Mapping[str, bytes], out: BinaryIO) -> int:
    """Write ``members`` (name -> bytes) as a deterministic ZIP to ``out``; return its size.

    :raises OSError, zipfile.LargeZipFile: when writing fails.
    """
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL) as buffer:
        with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
            for name in sorted(members):
                archive.writestr(
                    member_info(name),
                    members[name],
                    compress_type=zipfile.ZIP_DEFLATED,
                    compresslevel=COMPRESS_LEVEL,
                )
        size = buffer.tell()
        buffer.seek(0)
        shutil.copyfileobj(buffer, out)
    return size
