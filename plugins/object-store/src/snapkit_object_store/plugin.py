"""Registers the object store with snapkit (entry point ``object-store``, store key ``s3``).

Importing this module is cheap: boto3, botocore and zstandard load only when the engine calls
the factory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from snapkit.chunking import CHUNK_TARGET, MIN_CHUNK_TARGET
from snapkit.descriptors import StoreDescriptor
from snapkit.markers import hookimpl

VERSION = "0.1.0"

_TEXT = {"type": "string", "minLength": 1}

SCHEMA: Mapping[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "s3 store settings",
    "type": "object",
    "additionalProperties": False,
    "required": ["bucket"],
    "properties": {
        "endpoint_url": {
            **_TEXT,
            "pattern": "^https?://",
            "description": "the S3 endpoint, e.g. 'https://s3.example.org' or "
            "'http://127.0.0.1:9000'; AWS's own when left out",
        },
        "bucket": {
            **_TEXT,
            "description": "the bucket (it must exist; the store never creates buckets)",
        },
        "prefix": {
            "type": "string",
            "default": "",
            "description": "key prefix the store's objects live under, so several "
            "stores can share one bucket",
        },
        "region": {**_TEXT, "default": "us-east-1", "description": "the bucket's region"},
        "access_key_id": {
            **_TEXT,
            "description": 'give it as {env = "NAME"}; when left '
            "out, AWS_ACCESS_KEY_ID and the usual AWS credential chain apply",
        },
        "secret_access_key": {
            **_TEXT,
            "description": 'give it as {env = "NAME"}, never '
            "in the file; when left out, AWS_SECRET_ACCESS_KEY and the usual "
            "AWS credential chain apply",
        },
        "connect_timeout": {
            "type": "number",
            "exclusiveMinimum": 0,
            "default": 5,
            "description": "seconds to wait for a connection to the endpoint",
        },
        "chunk_size": {
            "type": "integer",
            "minimum": 0,
            "default": CHUNK_TARGET,
            "description": f"plain bytes a chunk of a chunked part aims for "
            f"({MIN_CHUNK_TARGET} or more; {CHUNK_TARGET}, the default, is the measured "
            "choice, see docs/snapshots.md); 0 stores every part whole (both are read)",
        },
        "compression_level": {
            "type": "integer",
            "minimum": 1,
            "maximum": 22,
            "default": 3,
            "description": "zstd level for parts",
        },
    },
}
"""JSON Schema of the ``s3`` store's settings (the ``[store]`` table of ``snapkit.toml``)."""


def make_store(settings: Mapping[str, Any]) -> Any:
    """Build an :class:`snapkit_object_store.store.ObjectStore` from validated settings."""
    from snapkit_object_store.store import ObjectStore

    return ObjectStore.from_settings(settings)


@hookimpl
def snapkit_register_stores(register: Callable[[StoreDescriptor], None]) -> None:
    """Register the ``s3`` snapshot store."""
    register(
        StoreDescriptor(
            key="s3",
            version=VERSION,
            factory=make_store,
            settings_schema=SCHEMA,
            description="snapshots in S3-compatible object storage: parts and manifests "
            "written only if absent, the pointer moved with If-Match on its ETag",
        )
    )
