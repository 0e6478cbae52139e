"""``snapkit refresh``: run the oracles and commit a snapshot."""

from __future__ import annotations

from typing import Any

import click

from snapkit import exitcodes
from snapkit.cli.output import ProgressLines, echo_json, short


@click.command()
@click.option(
    "--oracle",
    "-o",
    "oracles",
    multiple=True,
    metavar="KEY",
    help="Run only this oracle (and what it requires); repeatable.",
)
@click.option(
    "--allow-shrink",
    "allow_shrink",
    multiple=True,
    metavar="KEY",
    help="Let this oracle's table shrink past refresh.max_shrink (even to empty) "
    "in this refresh only; repeatable.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.pass_obj
def refresh(
    state: object,
    oracles: tuple[str, ...],
    allow_shrink: tuple[str, ...],
    as_json: bool,
    quiet: bool,
) -> None:
    """Fetch data with the configured oracles and commit a snapshot.

    A success moves the current pointer; a failure records a failed snapshot with its errors
    and leaves the pointer where it was. A table that loses more than refresh.max_shrink of
    its records fails its oracle unless --allow-shrink (or refresh.allow_shrink) names it.
    Exit code: 0 success, 4 partial, 1 failed, 2 config error, 5 another refresh is running.
    """
    project = state.project()  # type: ignore[attr-defined]
    if allow_shrink:
        _allow_shrink(project, allow_shrink)
    progress = ProgressLines(enabled=not quiet and not as_json)
    try:
        outcome = project.refresh(list(oracles) or None, progress=progress)
    finally:
        progress.close()
    if as_json:
        echo_json(
            {
                "snapshot_id": outcome.snapshot_id,
                "status": outcome.status,
                "pointer_moved": outcome.pointer_moved,
                "duration_ms": round(outcome.duration_ms, 1),
                "errors": outcome.errors,
                "parts": outcome.manifest.parts,
                "warnings": list(outcome.warnings),
            }
        )
    else:
        moved = "current pointer moved" if outcome.pointer_moved else "current pointer unchanged"
        records = sum(p.records for p in outcome.manifest.parts)
        click.echo(
            f"snapshot {short(outcome.snapshot_id)}: {outcome.status} "
            f"({records:,} records in {len(outcome.manifest.parts)} tables, "
            f"{outcome.duration_ms / 1000:.1f} s); {moved}"
        )
        for error in outcome.errors:
            click.echo(f"  {error.code}: {error.message}", err=True)
        for warning in outcome.warnings:
            click.echo(f"warning: {warning}", err=True)
    code = {"success": exitcodes.OK, "partial": exitcodes.PARTIAL}.get(
        outcome.status, exitcodes.FAILURE
    )
    if code:
        raise click.exceptions.Exit(code)


def _allow_shrink(project: Any, keys: tuple[str, ...]) -> None:
    """Add ``keys`` to ``refresh.allow_shrink`` for this run (the config file is unchanged)."""
    from attrs import evolve

    from snapkit.errors import UnknownKeyError, UsageError

    for key in keys:
        try:
            project.manager.oracles.get(key)
        except UnknownKeyError as exc:
            raise UsageError(f"--allow-shrink: {exc.message}", hint=exc.hint) from None
    settings = project.config.refresh
    allowed = tuple(dict.fromkeys((*settings.allow_shrink, *keys)))
    project.config = evolve(project.config, refresh=evolve(settings, allow_shrink=allowed))
