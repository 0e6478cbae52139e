"""A recorder of hook calls, for tests of plugins and of the kernel's events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from snapkit.manager import PluginManager


@frozen
class HookCall:
    """One recorded hook call: the hook's name and its keyword arguments."""

    name: str
    kwargs: Mapping[str, Any]


class HookRecorder:
    """Records every hook call made through a manager until :meth:`close`."""

    def __init__(self, manager: PluginManager) -> None:
        self.calls: list[HookCall] = []

        def before(hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            self.calls.append(HookCall(hook_name, dict(kwargs)))

        def after(
            outcome: Any, hook_name: str, hook_impls: Sequence[Any], kwargs: Mapping[str, Any]
        ) -> None:
            return None

        self._undo = manager.add_hookcall_monitoring(before, after)

    def close(self) -> None:
        """Stop recording."""
        self._undo()

    def names(self) -> list[str]:
        """The names of the recorded hooks, in call order."""
        return [call.name for call in self.calls]

    def events(self, hook_name: str) -> list[Any]:
        """The ``event`` arguments of every recorded call of an event hook."""
        return [call.kwargs["event"] for call in self.calls if call.name == hook_name]

    def assert_called(self, hook_name: str, times: int | None = None) -> None:
        """Fail unless ``hook_name`` was called (exactly ``times`` times, if given)."""
        count = sum(1 for call in self.calls if call.name == hook_name)
        if times is None and count == 0:
            raise AssertionError(f"hook {hook_name} was not called; calls: {self.names()}")
        if times is not None and count != times:
            raise AssertionError(f"hook {hook_name} was called {count} times, not {times}")
