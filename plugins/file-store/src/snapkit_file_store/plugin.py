"""Registers the file store with snapkit (entry point ``file-store`` in the group ``snapkit``).

Importing this module is cheap: the store's modules (and zstandard, filelock) load only when the
engine calls the factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.descriptors import StoreDescriptor
from snapkit.markers import hookimpl

VERSION = "0.1.0"

SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "file store settings",
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": {
            "type": "string",
            "minLength": 1,
            "description": "the store's directory; created with mode 0700 by the first "
            "write (a refresh) if missing, never by reads",
        },
        "compression_level": {
            "type": "integer",
            "minimum": 1,
            "maximum": 22,
            "default": 3,
            "description": "zstd level for parts",
        },
        "chunk_size": {
            "type": "integer",
            "minimum": 0,
            "default": 768,
            "description": "plain bytes a chunk of a chunked part aims for on average (64 or "
            "more; the default 768 is the measured choice, see docs/snapshots.md); 0 stores "
            "every part whole (both are read)",
        },
        "lock_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 60,
            "description": "seconds to wait for the store's short inter-process mutex",
        },
        "temp_grace": {
            "type": "number",
            "minimum": 0,
            "default": 3600,
            "description": "seconds after which temp leftovers of live processes are removed "
            "on open when no live refresh lease holds them",
        },
    },
}
"""JSON Schema of the file store's settings (the ``[store]`` table of ``snapkit.toml``)."""


def make_store(settings: Mapping[str, Any]) -> Any:
    """Build a :class:`snapkit_file_store.store.FileStore` from validated settings."""
    from snapkit_file_store.store import FileStore

    return FileStore.from_settings(settings)


@hookimpl
def snapkit_register_stores(register: Callable[[StoreDescriptor], None]) -> None:
    """Register the ``file`` snapshot store."""
    register(
        StoreDescriptor(
            key="file",
            version=VERSION,
            factory=make_store,
            settings_schema=SCHEMA,
            description="snapshots in a local directory: content-addressed parts kept as "
            "shared zstd chunks, manifests, an atomic current pointer",
        )
    )
