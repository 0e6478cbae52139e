"""The ``toastmasters`` command group: run the local dashboard.

Mounted as ``snapkit toastmasters ...`` by the plugin; also runs alone with
``python -m snapkit_toastmasters.cli``.
"""

from __future__ import annotations

import json

import click


@click.group(name="toastmasters")
def toastmasters() -> None:
    """Toastmasters tools: a local dashboard serving deterministic districts' CSV exports."""


@toastmasters.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="Port; 0 picks a free one.")
@click.option(
    "--districts", default="61,62,63", show_default=True, help="Comma-separated district ids."
)
@click.option(
    "--clubs",
    default=150,
    show_default=True,
    type=click.IntRange(min=1),
    help="Clubs per district.",
)
@click.option(
    "--program-year", default="2026-2027", show_default=True, help="The open program year."
)
@click.option(
    "--month",
    default="Sep",
    show_default=True,
    type=click.Choice(
        ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun"]
    ),
    help="The current month.",
)
@click.option("--seed", default=0, show_default=True, help="Seed of the districts.")
@click.option("--no-bom", is_flag=True, help="Write exports without a byte order mark.")
@click.option("--server-errors", default=0, help="Answer the first N exports with 500.")
@click.option("--truncate", default=0, help="Cut the first N exports short.")
@click.option("--missing-column", default=None, help="Leave this column out of every export.")
@click.option("--stale-days", default=0, help="Date every export N days before its as-of date.")
def serve(
    host: str,
    port: int,
    districts: str,
    clubs: int,
    program_year: str,
    month: str,
    seed: int,
    no_bom: bool,
    server_errors: int,
    truncate: int,
    missing_column: str | None,
    stale_days: int,
) -> None:
    """Serve deterministic districts' exports until interrupted; prints the base URL and the
    admin endpoints (faults, advance a month) as JSON."""
    from snapkit_toastmasters.generator import MONTH_NAMES, Dashboard
    from snapkit_toastmasters.server import Faults
    from snapkit_toastmasters.server import serve as start

    ids = [d.strip() for d in districts.split(",") if d.strip()]
    if not ids:
        raise click.UsageError("--districts names no district")
    first, _, second = program_year.partition("-")
    if not (
        first.isdigit() and second.isdigit() and len(first) == 4 and int(second) == int(first) + 1
    ):
        raise click.BadParameter("write it as 2026-2027", param_hint="--program-year")
    dashboard = Dashboard.generate(
        ids, clubs, program_year=program_year, month=MONTH_NAMES.index(month), seed=seed
    )
    faults = Faults(
        server_errors=server_errors,
        truncate=truncate,
        missing_column=missing_column,
        stale_days=stale_days,
    )
    handle = start(dashboard, host=host, port=port, faults=faults, bom=not no_bom)
    info = {
        "base_url": handle.base_url,
        "districts": ids,
        "program_year": program_year,
        "state": handle.url + "/__admin/state",
        "faults": handle.url + "/__admin/faults",
        "advance": handle.url + "/__admin/advance",
    }
    click.echo(json.dumps(info, indent=2))
    try:
        handle.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        handle.close()


if __name__ == "__main__":  # pragma: no cover
    toastmasters()
