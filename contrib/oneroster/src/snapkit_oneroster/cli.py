"""The ``oneroster`` command group: run the local server, write a CSV bulk export, write the
daily layout view of a snapshot.

Mounted as ``snapkit oneroster ...`` by the plugin; ``serve`` and ``export-csv`` also run
alone with ``python -m snapkit_oneroster.cli``. ``layout`` needs a snapkit project.
"""

from __future__ import annotations

import json

import click

from snapkit_oneroster.faults import Faults

# Kept here rather than imported from server.py, so that mounting this group stays light.
AUTH_MODES = ("oauth2", "oauth1", "both")
MAX_LIMIT = 10_000


@click.group(name="oneroster")
def oneroster() -> None:
    """OneRoster 1.1 tools: a local server over a synthetic district, bulk CSV export, and
    the daily layout view (CSV + JSONL + status.json) of a snapshot."""


@oneroster.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="Port; 0 picks a free one.")
@click.option("--users", default=50_000, show_default=True, help="Users in the district.")
@click.option("--seed", default=0, show_default=True, help="Seed of the district.")
@click.option("--auth", type=click.Choice(AUTH_MODES), default="oauth2", show_default=True)
@click.option("--client-id", default="snapkit-oneroster", show_default=True)
@click.option(
    "--client-secret",
    envvar="ONEROSTER_CLIENT_SECRET",
    default=None,
    help="Client secret (env ONEROSTER_CLIENT_SECRET); random when not given.",
)
@click.option("--token-ttl", default=3600.0, show_default=True, help="Token lifetime, seconds.")
@click.option("--max-limit", default=MAX_LIMIT, show_default=True, help="Largest page served.")
@click.option("--rate-limit", default=0, help="Answer the first N API requests with 429.")
@click.option("--retry-after", default=1, show_default=True, help="Retry-After seconds on 429.")
@click.option("--server-errors", default=0, help="Answer the first N API requests with 500.")
@click.option("--server-errors-always", is_flag=True, help="Answer every API request with 500.")
@click.option("--delay", default=0.0, help="Seconds to wait before each API answer.")
@click.option("--truncate", default=0, help="Cut the first N API response bodies short.")
@click.option("--truncate-always", is_flag=True, help="Cut every API response body short.")
@click.option("--omit-total-count", is_flag=True, help="Leave out X-Total-Count.")
@click.option(
    "--role-filter-cap",
    type=int,
    default=None,
    help="Cap role-selected queries at N records (the provider bug: 1000).",
)
def serve(
    host: str,
    port: int,
    users: int,
    seed: int,
    auth: str,
    client_id: str,
    client_secret: str | None,
    token_ttl: float,
    max_limit: int,
    rate_limit: int,
    retry_after: int,
    server_errors: int,
    server_errors_always: bool,
    delay: float,
    truncate: int,
    truncate_always: bool,
    omit_total_count: bool,
    role_filter_cap: int | None,
) -> None:
    """Serve a synthetic district over the OneRoster 1.1 REST API until interrupted."""
    from snapkit_oneroster.server import serve as start

    faults = Faults(
        rate_limit=rate_limit,
        retry_after=retry_after,
        server_errors=server_errors,
        server_errors_always=server_errors_always,
        delay=delay,
        truncate=truncate,
        truncate_always=truncate_always,
        omit_total_count=omit_total_count,
        role_filter_cap=role_filter_cap,
    )
    click.echo(f"generating a district of {users} users (seed {seed})...", err=True)
    handle = start(
        host=host,
        port=port,
        users=users,
        seed=seed,
        auth=auth,
        client_id=client_id,
        client_secret=client_secret,
        faults=faults,
        token_ttl=token_ttl,
        max_limit=max_limit,
    )
    info = {
        "base_url": handle.base_url,
        "token_url": handle.token_url if auth != "oauth1" else None,
        "auth": auth,
        "client_id": handle.client_id,
        "client_secret": handle.client_secret,
        "admin": handle.url + "/__admin/state",
    }
    click.echo(json.dumps(info, indent=2))
    try:
        handle.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopping", err=True)
    finally:
        handle.close()


@oneroster.command("export-csv")
@click.argument("target", type=click.Path())
@click.option("--users", default=50_000, show_default=True, help="Users in the district.")
@click.option("--seed", default=0, show_default=True, help="Seed of the district.")
@click.option("--days", default=0, show_default=True, help="Days to advance before export.")
def export_csv(target: str, users: int, seed: int, days: int) -> None:
    """Write a synthetic district as a OneRoster 1.1 CSV bulk export (TARGET.zip or folder)."""
    from snapkit_oneroster.bulk_csv import write_bulk_csv
    from snapkit_oneroster.district import District

    district = District.generate(seed=seed, users=users)
    for _ in range(days):
        district.advance_day()
    path = write_bulk_csv(district.tables(), target)
    click.echo(str(path))


@oneroster.command("layout")
@click.option(
    "--snapshot",
    "-s",
    "ref",
    default="current",
    show_default=True,
    help="Which snapshot: an id or prefix, current, current~N, latest or a date.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    default="snapshots",
    show_default=True,
    help="Root of the layout: OUT/{namespace}/{date}/oneroster/.",
)
@click.option(
    "--config",
    "-c",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file, when not run as 'snapkit -c CONFIG oneroster layout'.",
)
@click.pass_context
def layout(ctx: click.Context, ref: str, out: str, config_path: str | None) -> None:
    """Write a snapshot as the daily layout (docs/oneroster.md): status.json, CSV and JSONL
    per table.

    A failed snapshot (e.g. '--snapshot latest' after a failed refresh) gets status.json
    alone, with status 'failed' and its errors. Never fetches.
    """
    from snapkit_oneroster.layout import LayoutError, write_layout
    from snapkit_oneroster.settings import SECTION

    state = ctx.find_root().obj
    if config_path is None and state is not None and hasattr(state, "project"):
        project = state.project()
    else:
        from snapkit.project import Project

        project = Project.load(config_path)
    manifest = project.resolve(ref)
    section = project.config.settings.get("oracles", {}).get(SECTION, {})
    try:
        report = write_layout(project.store, manifest, project.config.resolve_path(out), section)
    except LayoutError as exc:
        raise click.UsageError(str(exc)) from None
    rows = sum(info["rows"] for name, info in report.files.items() if name.endswith(".csv"))
    click.echo(
        f"{report.folder}: {report.status}, {len(report.files)} files, {rows:,} CSV rows "
        f"(snapshot {manifest.id[:12]})"
    )


if __name__ == "__main__":  # pragma: no cover
    oneroster()
