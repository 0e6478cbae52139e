"""``snapkit search TABLE QUERY``: find rows in a snapshot's table, streaming or indexed."""

from __future__ import annotations

import json

import click

from snapkit.cli.output import echo_json, short


@click.command()
@click.argument("table", required=False)
@click.argument("query", nargs=-1)
@click.option(
    "--snapshot",
    "-s",
    "ref",
    default="current",
    show_default=True,
    help="Which snapshot: an id or prefix, current, current~N, latest or a date.",
)
@click.option("--ignore-case", "-i", is_flag=True, help="Compare case-insensitively.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Skip this many matching rows first.",
)
@click.option("--no-index", is_flag=True, help="Always scan, even if an index covers the query.")
@click.option(
    "--reindex",
    is_flag=True,
    help="First rebuild every search index, build the missing ones [search] index "
    "asks for (of TABLE only, if given) and remove those of pruned parts; "
    "QUERY is then optional.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def search(
    state: object,
    table: str | None,
    query: tuple[str, ...],
    ref: str,
    ignore_case: bool,
    limit: int,
    offset: int,
    no_index: bool,
    reindex: bool,
    as_json: bool,
) -> None:
    """Find rows of TABLE matching QUERY, in table order. Never fetches.

    \b
    QUERY terms (all must match):
      field=value    the field equals value
      field^=value   the field starts with value
      field~value    the field contains value
      value          some field contains value
    Quote values with spaces: name="Ada L". Dotted fields reach into objects.

    TABLE is a table of the snapshot (see 'snapkit snapshots show') or a search view a
    plugin registers, e.g. 'guardians' (each guardian with their children).

    Indexes ([search] index) answer = and ^= terms; every row they give is checked against
    the part. A damaged index is reported on stderr, rebuilt, and the search answered by a
    scan. --reindex rebuilds them all (the repair 'snapkit snapshots verify' names).
    """
    from snapkit.errors import UsageError

    project = state.project()  # type: ignore[attr-defined]
    if reindex:
        from snapkit.search_index import reindex as rebuild

        for line in rebuild(project, ref, table):
            click.echo(line, err=True)
        if not query:
            return
    if table is None or not query:
        raise UsageError(
            "search needs a TABLE and a QUERY",
            hint="e.g. 'snapkit search users email^=ada' (or --reindex alone)",
        )
    text = " ".join(query)
    result = project.search(
        table,
        text,
        ref=ref,
        offset=offset,
        limit=limit,
        ignore_case=ignore_case,
        use_index=not no_index,
    )
    if as_json:
        echo_json(
            {
                "snapshot_id": result.snapshot_id,
                "table": result.table,
                "query": result.query,
                "offset": result.offset,
                "limit": result.limit,
                "more": result.more,
                "scanned": result.scanned,
                "index": result.used_index,
                "index_problem": result.index_problem,
                "rows": list(result.rows),
            }
        )
        if result.index_problem:
            click.echo(f"warning: {result.index_problem}", err=True)
        return
    if result.index_problem:
        click.echo(f"warning: {result.index_problem}", err=True)
    for row in result.rows:
        click.echo(json.dumps(row, ensure_ascii=False, sort_keys=True))
    how = f"index on {result.used_index}" if result.used_index else f"scanned {result.scanned:,}"
    more = "; more match (use --offset)" if result.more else ""
    click.echo(
        f"{len(result.rows)} row(s) from {result.table} in snapshot "
        f"{short(result.snapshot_id)} ({how}){more}",
        err=True,
    )
