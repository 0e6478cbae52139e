"""Checks of a configuration against the installed plugins, collected rather than raised.

``snapkit plugins validate`` reports every problem at once; :meth:`snapkit.Project.open`
raises on the first. Both word a missing plugin the same way: a key no plugin registers gets a
"did you mean", and when a plugin failed to load, the load error is named (it is the likely
reason the key is missing).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from snapkit.config import SECTION_OF_KIND, Config, schema_problems
from snapkit.manager import PluginManager, Problem

CONFIG = "config"
"""The ``plugin`` field of a configuration problem."""


def missing_key_hint(manager: PluginManager, key: str, known: Iterable[str]) -> str:
    """Why no plugin registers ``key``, and what to do: a close known key, or the plugins that
    failed to load (with their errors), or "install or enable its plugin"."""
    broken = [r for r in manager.records if r.status == "load-error"]
    close = difflib.get_close_matches(key, list(known), n=1)
    if close and not broken:
        return f"did you mean {close[0]!r}?"
    if broken:
        failures = "; ".join(f"plugin {r.name!r} failed to load: {r.error}" for r in broken)
        maybe = f"did you mean {close[0]!r}? or " if close else ""
        return f"{maybe}{failures}"
    return "install or enable its plugin, or remove the section"


def config_problems(config: Config, manager: PluginManager) -> list[Problem]:
    """Every problem of ``config``'s plugin sections and store, in file order.

    Unknown keys (``[oracles.usres]``), settings that fail the plugin's schema (``path = 42``,
    an unknown setting) and a store kind no plugin provides are each one problem.
    """
    where = config.where
    problems: list[Problem] = []
    for kind, section in SECTION_OF_KIND.items():
        registry = manager.registry(kind)
        for key, value in config.settings.get(section, {}).items():
            if key not in registry:
                hint = missing_key_hint(manager, key, registry.keys())
                problems.append(
                    Problem(
                        CONFIG,
                        f"unknown-{kind.replace('_', '-')}",
                        f"{where}: {section}.{key}: no {kind} {key!r} is installed; {hint}",
                    )
                )
                continue
            problems += _schema_problems(
                value, registry.get(key).settings_schema, where, f"{section}.{key}"
            )
    stores = manager.stores
    if config.store_kind not in stores:
        if stores.keys() or config.store_kind != "file":
            hint = missing_key_hint(manager, config.store_kind, stores.keys())
            problems.append(
                Problem(
                    CONFIG,
                    "unknown-store",
                    f"{where}: store.kind: no store {config.store_kind!r} is installed; {hint}",
                )
            )
        return problems
    schema = stores.get(config.store_kind).settings_schema
    settings = dict(config.store_settings)
    if schema is None or "path" in schema.get("properties", {}):
        settings.setdefault("path", "snapkit-data")
    problems += _schema_problems(settings, schema, where, "store")
    return problems


def _schema_problems(
    value: Any, schema: Mapping[str, Any] | None, where: str, prefix: str
) -> list[Problem]:
    if schema is None:
        return []
    return [
        Problem(CONFIG, "invalid-settings", message)
        for message in schema_problems(value, schema, where, prefix)
    ]
