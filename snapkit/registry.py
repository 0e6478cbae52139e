"""One registry per plugin kind: descriptors by key, with the plugin that registered each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from attrs import frozen

from snapkit.descriptors import Descriptor
from snapkit.errors import DuplicateKeyError, UnknownKeyError

D = TypeVar("D", bound=Descriptor)


@frozen
class Registration(Generic[D]):
    """A descriptor and the name of the plugin that registered it."""

    descriptor: D
    plugin: str


class Registry(Generic[D]):
    """The descriptors of one kind, by key, in registration order.

    A key registered by two plugins is kept as a conflict: :meth:`get` raises
    :class:`DuplicateKeyError` naming both plugins rather than guess which one was meant.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Registration[D]] = {}
        self._conflicts: dict[str, list[str]] = {}

    def add(self, descriptor: D, plugin: str) -> DuplicateKeyError | None:
        """Add ``descriptor``; return the duplicate-key error if the key was taken."""
        key = descriptor.key
        if key in self._entries:
            owners = self._conflicts.setdefault(key, [self._entries[key].plugin])
            owners.append(plugin)
            return DuplicateKeyError(
                f"{self.kind} key {key!r} is registered by both {owners[0]!r} and {plugin!r}",
                hint="block one of the plugins or ask its author to rename the key",
            )
        self._entries[key] = Registration(descriptor, plugin)
        return None

    def get(self, key: str) -> D:
        """Return the descriptor registered under ``key``.

        :raises UnknownKeyError: if no plugin registered it (with a "did you mean").
        :raises DuplicateKeyError: if two plugins registered it.
        """
        if key in self._conflicts:
            owners = self._conflicts[key]
            raise DuplicateKeyError(
                f"{self.kind} key {key!r} is registered by {len(owners)} plugins: "
                + ", ".join(repr(owner) for owner in owners),
                hint="block all but one of them in the plugins section of the config",
            )
        try:
            return self._entries[key].descriptor
        except KeyError:
            import difflib  # only for the error's suggestion

            close = difflib.get_close_matches(key, list(self._entries), n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
            known = ", ".join(sorted(self._entries)) or "none"
            raise UnknownKeyError(
                f"no {self.kind} with key {key!r} is registered (known: {known})",
                hint=hint or "install or enable the plugin that provides it",
            ) from None

    def plugin_of(self, key: str) -> str:
        """Return the name of the plugin that registered ``key``."""
        return self._entries[key].plugin

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def __iter__(self) -> Iterator[D]:
        return (entry.descriptor for entry in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def keys(self) -> list[str]:
        """Return the registered keys in registration order."""
        return list(self._entries)

    def registrations(self) -> list[Registration[D]]:
        """Return every registration, in registration order."""
        return list(self._entries.values())
