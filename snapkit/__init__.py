"""snapkit: data snapshots you can trust.

The kernel holds the contracts, the hook specifications, the plugin manager and the engine;
every concrete part is a plugin. Importing this package is cheap: the engine's modules load on
first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from snapkit.markers import hookimpl

__version__ = "0.2.0"

__all__ = ["Project", "__version__", "hookimpl", "open_project"]

if TYPE_CHECKING:
    from snapkit.project import Project, open_project


def __getattr__(name: str) -> Any:
    if name in {"Project", "open_project"}:
        from snapkit import project

        return getattr(project, name)
    raise AttributeError(f"module 'snapkit' has no attribute {name!r}")
