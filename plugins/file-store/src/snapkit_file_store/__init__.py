"""snapkit-file-store: the embedded snapkit snapshot store, a private local directory.

Use it through the ``file`` store key in ``snapkit.toml``, or directly::

    from snapkit_file_store import FileStore
    store = FileStore("/var/lib/snapkit/store")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FileStore"]

if TYPE_CHECKING:
    from snapkit_file_store.store import FileStore


def __getattr__(name: str) -> Any:
    if name == "FileStore":
        from snapkit_file_store.store import FileStore

        return FileStore
    raise AttributeError(f"module 'snapkit_file_store' has no attribute {name!r}")
