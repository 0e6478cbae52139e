"""Typed errors of the Fabric snapshot and diff layer.

The hierarchy follows the exporter's (README.md): both errors inherit from
:class:`FabricExportError`, so a caller can catch every Fabric failure at once or tell
snapshot problems from diff problems.
"""

from __future__ import annotations

__all__ = ["FabricDiffError", "FabricExportError", "FabricSnapshotError"]


class FabricExportError(Exception):
    """Base class of every error raised by ``snapkit_fabric``."""


class FabricSnapshotError(FabricExportError):
    """A Fabric report could not be loaded, validated or hashed into a snapshot."""


class FabricDiffError(FabricExportError):
    """A diff between two Fabric reports could not be computed."""
