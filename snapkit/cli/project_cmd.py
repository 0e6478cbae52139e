"""``snapkit project``: derive projections from a snapshot and print their statuses and values.

Never fetches: it reads the chosen snapshot from the store (:meth:`Project.derive`). Shared
by ``snapkit export``:
:func:`parse_filters` and :func:`choose_snapshot`.
"""

from __future__ import annotations

import json
from typing import Any

import click

from snapkit import exitcodes
from snapkit.cli.output import echo_json, echo_table, short


def parse_filters(pairs: tuple[str, ...]) -> dict[str, Any]:
    """Parse ``key=value`` pairs; a value is read as JSON when it parses (``14``, ``0.5``,
    ``true``), else kept as text."""
    filters: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="--filter")
        try:
            value = json.loads(raw)
        except ValueError:
            value = raw
        filters[key.strip()] = value
    return filters


def choose_snapshot(project: Any, ref: str | None, scope: str | None) -> Any:
    """Return the snapshot to read: ``ref`` (an id, prefix, ``current``, ...), or the newest
    successful snapshot of ``scope`` (``CONTEXT[/CONTAINER]`` in the configured namespace,
    with the configured filters), or the current one."""
    from attrs import evolve

    from snapkit.errors import NoSnapshotError, UsageError
    from snapkit.store import ListFilter

    if scope is None:
        return project.resolve(ref or "current")
    if ref is not None:
        raise UsageError("give either a snapshot REF or --scope, not both")
    context, _, container = scope.partition("/")
    wanted = evolve(project.config.scope, context=context or None, container=container or None)
    listed = project.snapshots(ListFilter(status=("success",), scope_id=wanted.id), limit=1)
    if not listed:
        raise NoSnapshotError(
            f"no successful snapshot of scope {scope!r} yet", hint="refresh that scope first"
        )
    return project.store.get(listed[0].id)


@click.command()
@click.argument("ref", required=False)
@click.option(
    "--scope",
    metavar="CONTEXT[/CONTAINER]",
    help="Use the newest successful snapshot of this scope (configured namespace).",
)
@click.option(
    "--filter",
    "-f",
    "filter_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a scope filter (thresholds, windows); repeatable.",
)
@click.option(
    "--projection",
    "-p",
    "keys",
    multiple=True,
    metavar="KEY",
    help="Derive only this projection; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (statuses and values).")
@click.pass_obj
def project(
    state: Any,
    ref: str | None,
    scope: str | None,
    filter_pairs: tuple[str, ...],
    keys: tuple[str, ...],
    as_json: bool,
) -> None:
    """Derive projections from a snapshot (default: the current one) and print each one's
    status, reason code and value.

    Statuses: ready; partial (an optional oracle is missing); unavailable (a required oracle
    is not in the snapshot); failed (a required oracle failed, or derivation raised).
    Exit code: 0 when no projection failed, 1 otherwise, 3 when there is no snapshot.
    """
    proj = state.project()
    manifest = choose_snapshot(proj, ref, scope)
    derived = proj.derive(manifest, keys=list(keys) or None, filters=parse_filters(filter_pairs))
    if as_json:
        echo_json(
            {"snapshot_id": manifest.id, "filters": derived.filters, "projections": derived.results}
        )
    else:
        click.echo(f"snapshot {short(manifest.id)} ({manifest.status})")
        echo_table(
            ("projection", "status", "reason", "oracles"),
            [
                (r.key, r.status, r.reason or "", ",".join(r.oracles))
                for r in derived.results.values()
            ],
        )
        for result in derived.results.values():
            if result.status in {"failed", "unavailable"} and result.message:
                click.echo(f"  {result.key}: {result.message}")
        for result in derived.results.values():
            if result.status in {"ready", "partial"}:
                click.echo(f"\n{result.key}:")
                click.echo(json.dumps(result.value, indent=2, sort_keys=True, ensure_ascii=False))
    if any(r.status == "failed" for r in derived.results.values()):
        raise click.exceptions.Exit(exitcodes.FAILURE)
