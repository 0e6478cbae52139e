"""Assertions for plugin authors' tests."""

from __future__ import annotations

from snapkit.manager import PluginManager, PluginSelection, normalize_name


def assert_plugin_installed(name: str) -> None:
    """Fail unless a plugin (entry-point or distribution name) is discovered and loads cleanly.

    Loads only that plugin, through its real entry point, so the check is what users get.
    """
    manager = PluginManager(PluginSelection(enabled=(name,), autoload=True))
    manager.load_entry_points()
    wanted = normalize_name(name)
    records = [
        r
        for r in manager.records
        if normalize_name(r.name) == wanted or normalize_name(r.distribution or "") == wanted
    ]
    if not records:
        raise AssertionError(
            f"no installed plugin is called {name!r} (entry point group "
            "'snapkit'); is its distribution installed?"
        )
    broken = [r for r in records if r.status != "ok"]
    if broken:
        raise AssertionError(f"plugin {broken[0].name!r} is {broken[0].status}: {broken[0].error}")
    problems = [p for p in manager.problems if p.plugin in {r.name for r in records}]
    if problems:
        raise AssertionError(f"plugin {name!r} has problems: {problems[0].message}")
