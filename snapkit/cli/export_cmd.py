"""``snapkit export``: a snapshot's projections as a deterministic ZIP of datasets.

Reads the snapshot from the store, derives its projections, then exports
(:meth:`Project.export`): the export step itself only transforms that bundle (it never
fetches).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from snapkit import exitcodes
from snapkit.cli.output import echo_json, short
from snapkit.cli.project_cmd import choose_snapshot, parse_filters


@click.command()
@click.argument("ref", required=False)
@click.option("--profile", required=True, metavar="NAME", help="The export profile.")
@click.option(
    "--output",
    "-o",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The ZIP file to write (written atomically).",
)
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
    "--check-parity",
    is_flag=True,
    help="Re-read the written files and compare their fingerprints with the "
    "projections' and the manifest's; exit 1 on a mismatch.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (and parity) as JSON.")
@click.pass_obj
def export(
    state: Any,
    ref: str | None,
    profile: str,
    output: Path,
    scope: str | None,
    filter_pairs: tuple[str, ...],
    check_parity: bool,
    as_json: bool,
) -> None:
    """Export a snapshot (default: the current one) as a ZIP of the profile's datasets with
    manifest.json (rows, bytes, sha256, status and policy per file; the snapshot id; a parity
    fingerprint per projection).

    A fail_closed dataset that cannot be built stops the export with its reason code (exit 1,
    nothing written); allow_partial_with_manifest datasets are left out or marked partial and
    listed in the manifest. Exit code: 0 complete, 4 partial, 1 failed or parity mismatch,
    3 no snapshot.
    """
    from snapkit.errors import ExportError

    proj = state.project()
    manifest = choose_snapshot(proj, ref, scope)
    try:
        outcome = proj.export(
            profile,
            output,
            manifest,
            filters=parse_filters(filter_pairs),
            check_parity=check_parity,
        )
    except ExportError as exc:
        click.echo(f"Error: export failed ({exc.reason}): {exc}", err=True)
        raise click.exceptions.Exit(exc.exit_code) from None
    parity = outcome.parity
    if as_json:
        data: dict[str, Any] = {
            "path": outcome.path,
            "status": outcome.status,
            "bytes": outcome.size,
            "sha256": outcome.sha256,
            "manifest": outcome.manifest,
        }
        if parity is not None:
            data["parity"] = parity
        echo_json(data)
    else:
        m = outcome.manifest
        click.echo(
            f"exported snapshot {short(m.snapshot_id)} profile {m.profile} to "
            f"{outcome.path}: {outcome.status}, {len(m.resources)} files, "
            f"{outcome.size:,} bytes, sha256 {outcome.sha256[:12]}"
        )
        for resource in m.resources:
            note = f" ({resource.reason})" if resource.reason else ""
            click.echo(f"  {resource.path:<40} {resource.rows:>8,} rows  {resource.status}{note}")
        for omission in m.omitted:
            click.echo(f"  {omission.dataset:<40} left out: {omission.reason}")
        if parity is not None:
            verdict = "ok" if parity.ok else "MISMATCH"
            click.echo(f"parity: {verdict} ({len(parity.recorded.matched)} projections)")
            for report in (parity.recorded, parity.projections):
                for mismatch in report.mismatches if report else ():
                    click.echo(
                        f"  {mismatch.projection}: expected {mismatch.expected}, "
                        f"files give {mismatch.actual}",
                        err=True,
                    )
    if parity is not None and not parity.ok:
        raise click.exceptions.Exit(exitcodes.FAILURE)
    if outcome.status == "partial":
        raise click.exceptions.Exit(exitcodes.PARTIAL)
