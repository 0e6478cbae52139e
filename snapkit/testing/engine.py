"""Helpers for testing oracles and refreshes: inline oracle plugins and throwaway projects.

Example::

    from snapkit.testing.engine import OraclePlugin, make_project

    plugin = OraclePlugin()
    plugin.add("users", lambda call: [{"id": 1}], records=True, key_column="id")
    project = make_project(tmp_path, plugin)
    outcome = project.refresh()
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from snapkit.config import config_from_data
from snapkit.descriptors import OracleDescriptor
from snapkit.manager import PluginManager, PluginSelection
from snapkit.markers import hookimpl
from snapkit.project import Project


class OraclePlugin:
    """An inline plugin whose oracles are plain functions ``load(call)``.

    ``calls`` counts how often each oracle was loaded (reads must never add to it).
    """

    def __init__(self) -> None:
        self.descriptors: list[OracleDescriptor] = []
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def add(self, key: str, load: Callable[[Any], Any], **options: Any) -> OraclePlugin:
        """Add an oracle; ``options`` are :class:`OracleDescriptor` fields."""

        def factory(settings: Mapping[str, Any]) -> Callable[[Any], Any]:
            def counted(call: Any) -> Any:
                with self._lock:
                    self.calls[key] = self.calls.get(key, 0) + 1
                return load(call)

            return counted

        self.descriptors.append(OracleDescriptor(key=key, factory=factory, **options))
        return self

    @hookimpl
    def snapkit_register_oracles(self, register: Callable[[Any], None]) -> None:
        """Register every added oracle."""
        for descriptor in self.descriptors:
            register(descriptor)


def make_project(
    folder: Path,
    *plugins: object,
    store: str = "file",
    config: Mapping[str, Any] | None = None,
) -> Project:
    """Build a project in ``folder`` with the installed store plugin and inline ``plugins``.

    Only the store's plugin is loaded from entry points (so other installed plugins cannot
    interfere); ``config`` adds to the configuration (``refresh``, ``scope``, ...). Unless
    ``config`` names ``refresh.oracles``, a refresh runs every oracle of the inline plugins.
    """
    data: dict[str, Any] = {"store": {"kind": store, "path": str(folder / "store")}}
    data.update(config or {})
    inline = [d.key for p in plugins if isinstance(p, OraclePlugin) for d in p.descriptors]
    if inline and "oracles" not in data.get("refresh", {}):
        data["refresh"] = {**data.get("refresh", {}), "oracles": inline}
    data.setdefault("plugins", {})
    cfg = config_from_data(data, None, folder)
    manager = PluginManager(PluginSelection(enabled=(f"{store}-store",)), cfg)
    manager.load_entry_points()
    for index, plugin in enumerate(plugins):
        manager.register(plugin, name=f"inline-{index}")
    return Project(cfg, manager)
