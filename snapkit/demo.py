"""``snapkit demo``: the guided tour, on whichever demo scenario plugins register.

A scenario (see :class:`DemoScenario`) owns a data source: it starts it, writes the config
that points oracles at it, and changes it between two refreshes. The runner does the
snapkit part through the public :class:`snapkit.project.Project` API — refresh, refresh
again, diff, search, verify — so the demo shows exactly what a host or an operator gets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from attrs import frozen


@frozen
class SearchExample:
    """A search the demo runs and explains.

    ``columns`` are the (dotted) fields shown for each row found; a dotted field reaching
    into a list shows every item's value, e.g. ``children.givenName``.
    """

    table: str
    query: str
    explain: str
    columns: tuple[str, ...] = ()


def describe_row(row: Any, columns: Sequence[str]) -> str:
    """One line for a found row: ``column=value`` for each column (all fields if none)."""
    from snapkit.search import _values, as_text

    if not columns:
        import json

        return json.dumps(row, ensure_ascii=False, sort_keys=True)
    shown = []
    for column in columns:
        values = [text for value in _values(row, column)
                  if (text := as_text(value)) is not None]
        shown.append(f"{column}={', '.join(values) if values else '-'}")
    return "  ".join(shown)


@runtime_checkable
class DemoScenario(Protocol):
    """A demo data source (returned by a :class:`snapkit.descriptors.DemoDescriptor`)."""

    title: str

    def start(self, folder: Path) -> str:
        """Start the source and return the text of a ``snapkit.toml`` that refreshes from it
        (its store path relative to ``folder``)."""
        ...

    def advance(self) -> str:
        """Change the source as a day would; return one line saying what changed."""
        ...

    def searches(self) -> Sequence[SearchExample]:
        """Searches worth showing on the refreshed data."""
        ...

    def close(self) -> None:
        """Stop the source."""


Say = Callable[[str], None]


def choose_scenario(manager: Any, key: str | None) -> Any:
    """Return the demo descriptor named ``key``, or the one with the highest priority."""
    from snapkit.errors import UsageError

    registry = manager.registry("demo")
    if key is not None:
        return registry.get(key)
    candidates = sorted(registry, key=lambda d: (-d.priority, d.key))
    if not candidates:
        raise UsageError("no demo scenario is installed",
                         hint="install the repository's plugins: see README's quick start")
    return candidates[0]
