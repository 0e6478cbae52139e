"""The testing kit for plugin authors (a pytest plugin, loaded automatically).

Fixtures:

- ``snapkit_manager``: a fresh :class:`snapkit.manager.PluginManager` with autoload off;
- ``register_plugin``: registers a plugin object on that manager for one test;
- ``hook_recorder``: records every hook call made through that manager.

Helpers: :func:`assert_plugin_installed` (is a distribution's plugin discovered through entry
points and loaded cleanly?); for store authors, the conformance kit in
:mod:`snapkit.testing.store_kit`; for cache backend authors, the one in
:mod:`snapkit.testing.cache_kit`; for hosts driving the coordinator, the stubs in
:mod:`snapkit.testing.coordinator_stubs`.
"""

from __future__ import annotations

from snapkit.testing.helpers import assert_plugin_installed
from snapkit.testing.recorder import HookCall, HookRecorder

__all__ = ["HookCall", "HookRecorder", "assert_plugin_installed"]
