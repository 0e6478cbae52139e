"""snapkit's object store: snapshots in S3-compatible storage (store key ``s3``).

Parts and manifests are written only if absent (``If-None-Match: *``), the pointer object is
replaced with ``If-Match`` on its ETag, history is one object per event. See
:mod:`snapkit_object_store.store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from snapkit_object_store.store import ObjectStore

__all__ = ["ObjectStore"]


def __getattr__(name: str) -> Any:
    if name == "ObjectStore":
        from snapkit_object_store.store import ObjectStore

        return ObjectStore
    raise AttributeError(name)
