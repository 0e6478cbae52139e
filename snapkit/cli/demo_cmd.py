"""``snapkit demo``: refresh, change, refresh, diff, search, export, verify — on a scenario
plugin."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from snapkit.cli.output import ProgressLines, short


def _say(text: str = "") -> None:
    click.echo(text)


def _step(number: int, text: str) -> None:
    click.echo(click.style(f"\n[{number}] {text}", bold=True))


@click.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=Path("snapkit-demo"),
    show_default=True,
    help="Where the demo's config and store go.",
)
@click.option(
    "--users",
    "size",
    type=click.IntRange(min=10),
    default=5000,
    show_default=True,
    help="How big the demo data set is (users, for the OneRoster scenario).",
)
@click.option(
    "--scenario",
    metavar="KEY",
    help="Which demo scenario to run (default: the richest one installed).",
)
@click.option(
    "--store",
    "store_kind",
    metavar="KIND",
    default="file",
    show_default=True,
    help="The kind of store the demo refreshes into: any installed store, e.g. "
    "sqlite, postgresql or s3 (the dashboard export's own store, "
    "exports/store, stays a file store).",
)
@click.option(
    "--store-option",
    "store_options",
    metavar="KEY=VALUE",
    multiple=True,
    help="A setting of the [store] section, repeatable; VALUE is read as a TOML "
    'value (30 stays a number, {env="NAME"} names a secret), else as a '
    "string, e.g. dsn=postgresql://me@db/snapkit or bucket=demo. A store that "
    "takes a path gets one in --dir by default (sqlite: store.sqlite).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
@click.option(
    "--serve",
    "serve",
    is_flag=True,
    help="Then serve the demo store over HTTP (pages and API) until Ctrl-C, with "
    "the demo's data source still running so Refresh works.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8750,
    show_default=True,
    help="The port of --serve.",
)
@click.pass_obj
def demo(
    state: object,
    folder: Path,
    size: int,
    scenario: str | None,
    store_kind: str,
    store_options: tuple[str, ...],
    quiet: bool,
    serve: bool,
    port: int,
) -> None:
    """Run the guided demo end to end.

    Starts a demo data source (the local OneRoster server when the OneRoster plugin is
    installed), refreshes it into a store under --dir, changes the source as a day would,
    refreshes again, shows what changed, searches, exports one class's dashboard as a ZIP
    (when the scenario and the instructor-dashboard plugin offer it), verifies the store, and
    tells you what to run next, including how to open the pages on the demo store ('snapkit
    serve'); --serve starts them right away. The store stays in --dir for you to explore.

    By default the store is a file store in --dir; --store and --store-option put it in any
    installed store, e.g. '--store sqlite', '--store postgresql --store-option
    dsn=postgresql://me@db/snapkit' or '--store s3 --store-option
    endpoint_url=http://127.0.0.1:9000 --store-option bucket=demo'. A missing required
    option or an unknown kind stops the demo (exit 2) before anything is written.
    """
    from snapkit.config import load_config
    from snapkit.demo import choose_scenario, scenario_exports, with_store_section
    from snapkit.manager import PluginManager
    from snapkit.project import Project

    started = time.monotonic()
    folder = folder.resolve()
    base = state.manager()  # type: ignore[attr-defined]
    store_table = _store_table(base, folder, store_kind, store_options)
    descriptor = choose_scenario(base, scenario)
    folder.mkdir(parents=True, exist_ok=True)
    source = descriptor.factory({"size": size})
    click.echo(click.style(f"snapkit demo: {source.title}", bold=True))
    try:
        _step(1, "Start the data source and write the config")
        config_path = folder / "snapkit.toml"
        text = source.start(folder)
        if store_table is not None:
            text = with_store_section(text, store_table)
        config_path.write_text(text, encoding="utf-8")
        config = load_config(config_path)
        manager = PluginManager(config.plugins, config)
        manager.load_entry_points()
        project = Project.load(config, manager)
        _say(f"    config: {config_path}")
        _say(f"    store:  {_describe_store(project)}")

        _step(2, "Refresh: fetch everything and commit a snapshot")
        first = _refresh(project, quiet)

        _step(3, "Change the source as a day would")
        _say("    " + source.advance())

        _step(4, "Refresh again")
        second = _refresh(project, quiet)

        _step(5, "What changed")
        _show_changes(project, first, second)

        searches = list(source.searches())
        if searches:
            _step(6, "Search the current snapshot (streaming, no fetch)")
            _show_searches(project, searches)

        exports = scenario_exports(source, project)
        if exports:
            _step(7, "Export: one scope's dashboard as a ZIP of CSV files")
            for example in exports:
                _run_export(config_path, folder / "exports", example)

        _step(8 if exports else 7, "Verify the store: re-hash every manifest and part")
        report = project.verify()
        verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        _say(f"    {report.snapshots} snapshots, {report.parts} parts: {verdict}")
        elapsed = time.monotonic() - started
        c = f"-c {config_path}"
        click.echo(click.style(f"\nDone in {elapsed:.1f} s. Try next:", bold=True))
        _say(f"    snapkit {c} snapshots list")
        _say(f"    snapkit {c} snapshots current")
        _say(f"    snapkit {c} diff current~1 current")
        if searches:
            _say(f"    snapkit {c} search {searches[0].table} '{searches[0].query}'")
        _say(f"    snapkit {c} snapshots verify")
        _say("    snapkit plugins list")
        _say("  Open the pages (status, search, history, diff) on the demo store:")
        _say(f"    snapkit {c} serve --port {port}")
        _say(f"    then browse http://127.0.0.1:{port}/  (or run 'snapkit demo --serve')")
        if serve:
            from snapkit.cli.serve_cmd import run_server

            _say(
                f"\nServing the demo store on http://127.0.0.1:{port}/ (Ctrl-C stops it; "
                "the demo's data source runs meanwhile, so Refresh works)"
            )
            run_server(project, "127.0.0.1", port)
    finally:
        source.close()


def _store_table(
    manager: Any, folder: Path, kind: str, options: tuple[str, ...]
) -> dict[str, Any] | None:
    """The ``[store]`` table ``--store`` and ``--store-option`` ask for, checked against the
    store's settings schema; ``None`` for the scenario's own (a file store, no options).

    :raises UsageError, ConfigError: for an unknown kind, a malformed or missing option,
        settings the store's schema refuses, or an ``{env = "NAME"}`` naming an unset variable.
    """
    import difflib

    from snapkit.config import config_from_data, resolve_secrets
    from snapkit.demo import demo_store_table, parse_store_options
    from snapkit.errors import UsageError
    from snapkit.project import Project

    parsed = parse_store_options(options)
    if kind == "file" and not parsed:
        return None
    stores = manager.stores
    if kind not in stores:
        known = sorted(stores.keys())
        close = difflib.get_close_matches(kind, known, n=1)
        hint = (
            f"did you mean {close[0]!r}?"
            if close
            else "installed stores: " + (", ".join(known) or "none")
        )
        raise UsageError(f"--store {kind!r}: no such store is installed", hint=hint)
    table = demo_store_table(kind, parsed, stores.get(kind).settings_schema)
    config = config_from_data({"store": table}, Path("--store-option"), folder)
    Project(config, manager).validate_settings()
    resolve_secrets(dict(config.store_settings), "store", "--store-option")
    return table


def _describe_store(project: Any) -> str:
    """Where the demo's store is, without any setting that may hold a secret."""
    config = project.config
    if config.store_kind == "file" or "path" in config.store_settings:
        where = config.resolve_path(config.store_settings.get("path", "snapkit-data"))
        return f"{where}" if config.store_kind == "file" else f"{config.store_kind} {where}"
    return f"{config.store_kind} (as set in [store])"


def _refresh(project: Any, quiet: bool) -> Any:
    progress = ProgressLines(enabled=not quiet)
    try:
        outcome = project.refresh(progress=progress)
    finally:
        progress.close()
    records = sum(p.records for p in outcome.manifest.parts)
    _say(
        f"    snapshot {short(outcome.snapshot_id)}: {outcome.status}, {records:,} records in "
        f"{len(outcome.manifest.parts)} tables, {outcome.duration_ms / 1000:.1f} s"
    )
    for error in outcome.errors:
        _say(f"    {error.code}: {error.message}")
    return outcome


def _show_changes(project: Any, first: Any, second: Any) -> None:
    from snapkit.cli.diff_cmd import render_text
    from snapkit.diff import compute_diff

    diff = compute_diff(
        project.manager, project.store, first.manifest, second.manifest, max_items=3
    )
    for line in render_text(diff).splitlines():
        _say("    " + line)


def _show_searches(project: Any, searches: list[Any]) -> None:
    from snapkit.demo import describe_row
    from snapkit.search import search_table, search_view

    views = project.manager.registry("search_view")
    for example in searches:
        _say(f"    {example.explain}:")
        _say(f"      snapkit search {example.table} '{example.query}'")
        if example.table in views:
            result = search_view(project, "current", example.table, example.query, limit=3)
        else:
            result = search_table(project, "current", example.table, example.query, limit=3)
        for row in result.rows:
            _say("      " + describe_row(row, example.columns)[:200])
        more = " (and more)" if result.more else ""
        _say(f"      {len(result.rows)} shown{more}")


def _run_export(config_path: Path, folder: Path, example: Any) -> None:
    """Refresh an export's scope into ``folder/store`` and write ``folder/<name>.zip``; skip,
    saying so, when no installed plugin provides its profile or oracles."""
    import tomllib

    from snapkit.config import config_from_data
    from snapkit.demo import export_config
    from snapkit.export import SnapshotBundle, check_parity, export_snapshot, profiles
    from snapkit.manager import PluginManager
    from snapkit.project import Project
    from snapkit.projection import derive_for_project

    if example.explain:
        _say(f"    {example.explain}")
    base = tomllib.loads(config_path.read_text(encoding="utf-8"))
    config = config_from_data(export_config(base, example), folder / "snapkit.toml", folder)
    manager = PluginManager(config.plugins, config)
    manager.load_entry_points()
    oracles = manager.registry("oracle")
    missing = [key for key in example.oracles if key not in oracles]
    absent = [] if example.profile in profiles(manager) else [f"export profile {example.profile!r}"]
    if missing:
        absent.append("oracles " + ", ".join(repr(key) for key in missing))
    if absent:
        plugin = f" (install {example.plugin})" if example.plugin else ""
        _say(f"    skipped: no installed plugin provides {' or '.join(absent)}{plugin}")
        return
    folder.mkdir(parents=True, exist_ok=True)
    project = Project.load(config, manager)
    outcome = project.refresh(scope=example.scope)
    records = sum(p.records for p in outcome.manifest.parts)
    _say(
        f"    snapshot {short(outcome.snapshot_id)} of {example.scope.context}: "
        f"{outcome.status}, {records:,} records, {outcome.duration_ms / 1000:.1f} s"
    )
    for error in outcome.errors:
        _say(f"    {error.code}: {error.message}")
    if outcome.status == "failed":
        _say("    skipped: the refresh failed")
        return
    derived = derive_for_project(project, outcome.manifest)
    bundle = SnapshotBundle.from_projection_set(outcome.manifest, derived)

    def settings(descriptor: Any) -> Any:
        return project.config.plugin_settings(descriptor.kind, descriptor.key)

    from snapkit.errors import ExportError

    target = folder / f"{example.name}.zip"
    try:
        written = export_snapshot(bundle, example.profile, manager, target, settings=settings)
    except ExportError as exc:
        _say(f"    export failed ({exc.reason}): {exc}")
        return
    parity = check_parity(target, manager, bundle=bundle, settings=settings)
    _say(
        f"    {example.profile} -> {written.path}: {written.status}, "
        f"{len(written.manifest.resources)} files, {written.size:,} bytes, "
        f"parity {'ok' if parity.ok else 'MISMATCH'}"
    )
    for resource in written.manifest.resources:
        _say(f"      {resource.path:<38} {resource.rows:>7,} rows")
    for omission in written.manifest.omitted:
        _say(f"      {omission.dataset:<38} left out: {omission.reason}")
    _say(f"    its snapshot is in {project.config.resolve_path('store')}")
