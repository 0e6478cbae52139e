"""Dependency planning for oracles: order, cycles and unknown requirements (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from snapkit import exitcodes
from snapkit.errors import PluginError


class DependencyError(PluginError):
    """Oracles require an unknown oracle or form a cycle: a configuration problem (exit 2)."""

    exit_code = exitcodes.USAGE


def find_unknown(requires: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """Return ``(oracle, missing)`` pairs for every requirement that names no known oracle."""
    return sorted(
        (key, needed)
        for key, needs in requires.items()
        for needed in needs
        if needed not in requires
    )


def find_cycle(requires: Mapping[str, Sequence[str]]) -> list[str] | None:
    """Return one dependency cycle as a list of keys (first key repeated last), or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(key: str) -> list[str] | None:
        state[key] = 1
        stack.append(key)
        for needed in sorted(requires.get(key, ())):
            if needed not in requires:
                continue
            if state.get(needed) == 1:
                return [*stack[stack.index(needed) :], needed]
            if needed not in state:
                found = visit(needed)
                if found:
                    return found
        stack.pop()
        state[key] = 2
        return None

    for key in sorted(requires):
        if key not in state:
            found = visit(key)
            if found:
                return found
    return None


def closure(requires: Mapping[str, Sequence[str]], wanted: Iterable[str]) -> set[str]:
    """Return ``wanted`` plus everything it requires, transitively."""
    result: set[str] = set()
    todo = list(wanted)
    while todo:
        key = todo.pop()
        if key in result:
            continue
        result.add(key)
        todo.extend(requires.get(key, ()))
    return result


def plan_levels(requires: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Group oracles into levels: each level needs only oracles of earlier levels.

    Oracles within a level are independent and may run in parallel; keys are sorted within a
    level so the plan is deterministic.

    :raises DependencyError: on an unknown requirement or a cycle.
    """
    unknown = find_unknown(requires)
    if unknown:
        key, missing = unknown[0]
        raise DependencyError(
            f"oracle {key!r} requires unknown oracle {missing!r}",
            hint="install or enable the plugin that provides it",
        )
    cycle = find_cycle(requires)
    if cycle:
        raise DependencyError(
            "oracles form a dependency cycle: " + " -> ".join(cycle),
            hint="an oracle cannot require itself, directly or through others",
        )
    remaining = {key: set(needs) for key, needs in requires.items()}
    levels: list[list[str]] = []
    done: set[str] = set()
    while remaining:
        ready = sorted(key for key, needs in remaining.items() if needs <= done)
        levels.append(ready)
        done.update(ready)
        for key in ready:
            del remaining[key]
    return levels
