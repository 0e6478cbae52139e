"""Defaults shared by the report loader and the plugin, in a module that imports nothing."""

from __future__ import annotations

from typing import Final

DEFAULT_COMMAND_TIMEOUT: Final[float] = 60.0
"""Seconds a report command may run before it is killed."""
