"""The pluggy markers for snapkit hooks.

Plugins decorate their hook implementations with :data:`hookimpl`; functions whose name starts
with ``snapkit_`` are taken as implementations even without it, as pytest does.
"""

import pluggy

PROJECT = "snapkit"

hookspec = pluggy.HookspecMarker(PROJECT)
"""Marks a hook specification (kernel use only)."""

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a hook implementation in a plugin: ``@hookimpl`` or ``@hookimpl(tryfirst=True)``."""
