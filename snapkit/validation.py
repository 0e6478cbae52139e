"""``snapkit plugins validate``: checks of the installed plugin set beyond loading.

Loading already catches unknown hooks, bad signatures, duplicate keys and plugins that fail to
import or register; this adds schema and dependency checks over the registries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from snapkit.manager import PluginManager, Problem, normalize_name
from snapkit.planning import find_cycle, find_unknown


def check_schema(schema: Mapping[str, Any] | None) -> str | None:
    """Return why ``schema`` is not a valid JSON Schema (draft 2020-12), or ``None``."""
    if schema is None:
        return None
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(dict(schema))
    except jsonschema.SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(root)"
        return f"{exc.message} at {where}"
    return None


def validate_plugins(manager: PluginManager, names: Iterable[str] = ()) -> list[Problem]:
    """Return every problem of the plugin set, limited to plugins in ``names`` if given."""
    problems = list(manager.problems)
    for kind, registry in manager.registries.items():
        for registration in registry.registrations():
            descriptor = registration.descriptor
            error = check_schema(descriptor.settings_schema)
            if error:
                problems.append(
                    Problem(
                        registration.plugin,
                        "invalid-settings-schema",
                        f"{kind} {descriptor.key!r} has an invalid settings schema: {error}",
                    )
                )
            payload_schema = getattr(descriptor, "payload_schema", None)
            error = check_schema(payload_schema)
            if error:
                problems.append(
                    Problem(
                        registration.plugin,
                        "invalid-payload-schema",
                        f"oracle {descriptor.key!r} has an invalid payload schema: {error}",
                    )
                )
    oracles = manager.oracles
    requires = {d.key: d.requires for d in oracles}
    for key, missing in find_unknown(requires):
        problems.append(
            Problem(
                oracles.plugin_of(key),
                "unknown-oracle",
                f"oracle {key!r} requires unknown oracle {missing!r}",
            )
        )
    cycle = find_cycle(requires)
    if cycle:
        problems.append(
            Problem(
                oracles.plugin_of(cycle[0]),
                "oracle-cycle",
                "oracles form a dependency cycle: " + " -> ".join(cycle),
            )
        )
    projections = manager.projections
    for descriptor in projections:
        for needed in (*descriptor.requires, *descriptor.optional):
            if needed not in oracles:
                problems.append(
                    Problem(
                        projections.plugin_of(descriptor.key),
                        "unknown-oracle",
                        f"projection {descriptor.key!r} uses unknown oracle {needed!r}",
                    )
                )
    datasets = manager.datasets
    for descriptor in datasets:
        for needed in (*descriptor.requires, *descriptor.optional):
            if needed not in projections:
                problems.append(
                    Problem(
                        datasets.plugin_of(descriptor.key),
                        "unknown-projection",
                        f"dataset {descriptor.key!r} uses unknown projection {needed!r}",
                    )
                )
        if descriptor.serializer not in manager.serializers:
            problems.append(
                Problem(
                    datasets.plugin_of(descriptor.key),
                    "unknown-serializer",
                    f"dataset {descriptor.key!r} uses unknown serializer {descriptor.serializer!r}",
                )
            )
    wanted = {normalize_name(n) for n in names}
    if wanted:
        dist_of = {r.name: r.distribution or "" for r in manager.records}
        problems = [
            p
            for p in problems
            if normalize_name(p.plugin) in wanted
            or normalize_name(dist_of.get(p.plugin, "")) in wanted
        ]
    unique: dict[tuple[str, str, str], Problem] = {}
    for problem in problems:
        unique.setdefault((problem.plugin, problem.code, problem.message), problem)
    return list(unique.values())
