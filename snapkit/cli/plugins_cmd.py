"""``snapkit plugins list|validate``."""

from __future__ import annotations

import click

from snapkit import exitcodes
from snapkit.cli.output import echo_json, echo_table


@click.group()
def plugins() -> None:
    """List and validate installed plugins.

    Plugins are found through the 'snapkit' entry-point group. The config's [plugins] section
    picks the exact set (plugins.enabled), blocks some (plugins.blocked) or turns discovery off
    (plugins.autoload = false, or SNAPKIT_DISABLE_PLUGIN_AUTOLOAD=1).
    """


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--hook", "hook", metavar="NAME",
              help="Show only plugins implementing this hook, in the order they are called.")
@click.pass_obj
def list_plugins(state: object, as_json: bool, hook: str | None) -> None:
    """Show every plugin: distribution, version, status, kinds and keys, and hooks.

    Status is ok, load-error (with the error) or blocked (with the reason). A broken plugin is
    listed, never fatal.
    """
    manager = state.manager()  # type: ignore[attr-defined]
    records = manager.records
    if hook:
        order = manager.hook_order(hook)
        records = sorted((r for r in records if r.name in order), key=lambda r: order.index(r.name))
    if as_json:
        echo_json([
            {
                "name": r.name,
                "distribution": r.distribution,
                "version": r.version,
                "module": r.module,
                "status": r.status,
                "error": r.error,
                "hooks": list(r.hooks),
                "registrations": [{"kind": kind, "key": key} for kind, key in r.registrations],
            }
            for r in records
        ])
        return
    if not records:
        click.echo("No plugins installed (or autoload is off).")
        return
    rows = []
    for r in records:
        keys = ", ".join(f"{kind}:{key}" for kind, key in r.registrations)
        detail = keys if r.status == "ok" else (r.error or "")
        rows.append((r.name, r.distribution or "-", r.version or "-", r.status, detail))
    echo_table(("name", "distribution", "version", "status", "registers / error"), rows)
    if hook:
        click.echo(f"\nCall order of {hook}: " + " -> ".join(r.name for r in records))


@plugins.command("validate")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--strict", is_flag=True, help="Exit 1 also when a plugin failed to load.")
@click.pass_obj
def validate(state: object, names: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Check plugins: hooks against the specs (unknown names, signatures), duplicate keys,
    settings and payload schemas, oracle dependencies (unknown, cycles).

    NAMES limits the report to those plugins (entry-point or distribution names). Exits 1 when
    problems are found.
    """
    from snapkit.validation import validate_plugins

    manager = state.manager()  # type: ignore[attr-defined]
    problems = validate_plugins(manager, names)
    strict = strict or manager.selection.strict
    counted = problems if strict else [p for p in problems if p.code != "load-error"]
    if as_json:
        echo_json({
            "ok": not counted,
            "problems": [{"plugin": p.plugin, "code": p.code, "message": p.message}
                         for p in problems],
        })
    else:
        for p in problems:
            click.echo(f"{p.plugin}: {p.code}: {p.message}")
        loaded = sum(1 for r in manager.records if r.status == "ok")
        click.echo(f"{loaded} plugin(s) loaded, {len(problems)} problem(s)")
    if counted:
        raise click.exceptions.Exit(exitcodes.FAILURE)
