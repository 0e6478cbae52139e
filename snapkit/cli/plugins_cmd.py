"""``snapkit plugins list|validate``.

Both commands work while a plugin is broken: a plugin that fails to import or register is
shown as ``load-error`` with its error, never fatal. They read descriptors only, so no plugin
backend is ever constructed, and they do not import ``cattrs`` or ``jsonschema`` unless a check
needs it.
"""

from __future__ import annotations

from typing import Any

import click

from snapkit import exitcodes
from snapkit.cli.output import echo_table


@click.group()
def plugins() -> None:
    """List and validate installed plugins.

    Plugins are found through the 'snapkit' entry-point group. The config's [plugins] section
    picks the exact set (plugins.enabled), blocks some (plugins.blocked) or turns discovery off
    (plugins.autoload = false, or SNAPKIT_DISABLE_PLUGIN_AUTOLOAD=1). Strict mode
    (plugins.strict = true, or SNAPKIT_STRICT_PLUGINS=1) makes a plugin that fails to load an
    error: both commands then exit 1.
    """


def _manager(state: Any) -> Any:
    # The records already say which plugin failed and why; no need for log lines on stderr.
    return state.manager(quiet=True)


def _hook_name(name: str) -> str:
    import difflib

    from snapkit import hookspecs
    from snapkit.errors import UsageError

    known = [*hookspecs.REGISTRATION_HOOKS, *hookspecs.EVENT_HOOKS]
    full = name if name.startswith("snapkit_") else f"snapkit_{name}"
    if full not in known:
        close = difflib.get_close_matches(full, known, n=1)
        raise UsageError(
            f"--hook: no hook is called {name!r}",
            hint=f"did you mean {close[0]!r}?" if close else "see docs/hooks.md for the hooks",
        )
    return full


def _short_hook(name: str) -> str:
    return name.removeprefix("snapkit_")


def _echo_json(value: Any) -> None:
    import json

    click.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


@plugins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--hook",
    "hook",
    metavar="NAME",
    help="Show only plugins implementing this hook, in the order they are called.",
)
@click.pass_obj
def list_plugins(state: object, as_json: bool, hook: str | None) -> None:
    """Show every plugin: distribution, version, status, kinds and keys, and hooks.

    Status is ok, load-error (with the error) or blocked (with the reason). A broken plugin is
    listed, never fatal. With --hook NAME, only the plugins implementing NAME are shown, in the
    order pluggy calls them (tryfirst ones first, then the most recently registered).
    """
    hook_name = _hook_name(hook) if hook else None
    manager = _manager(state)
    records = manager.records
    if hook_name:
        order = manager.hook_order(hook_name)
        records = sorted((r for r in records if r.name in order), key=lambda r: order.index(r.name))
    if as_json:
        _echo_json(
            [
                {
                    "name": r.name,
                    "distribution": r.distribution,
                    "version": r.version,
                    "module": r.module,
                    "status": r.status,
                    "error": r.error,
                    "kinds": sorted({kind for kind, _ in r.registrations}),
                    "hooks": list(r.hooks),
                    "registrations": [{"kind": kind, "key": key} for kind, key in r.registrations],
                }
                for r in records
            ]
        )
    elif not records:
        if hook_name:
            click.echo(f"No loaded plugin implements {hook_name}.")
        else:
            click.echo("No plugins installed (or autoload is off).")
    else:
        rows = []
        for r in records:
            kinds = ", ".join(sorted({kind for kind, _ in r.registrations}))
            keys = ", ".join(f"{kind}:{key}" for kind, key in r.registrations)
            hooks = ", ".join(_short_hook(h) for h in r.hooks)
            rows.append(
                (
                    r.name,
                    r.distribution or "-",
                    r.version or "-",
                    r.status,
                    kinds or "-",
                    keys or "-",
                    hooks or "-",
                )
            )
        echo_table(("name", "distribution", "version", "status", "kinds", "keys", "hooks"), rows)
        for r in records:
            if r.status != "ok":
                click.echo(f"{r.name}: {r.status}: {r.error}")
        if hook_name:
            click.echo(f"\nCall order of {hook_name}: " + " -> ".join(r.name for r in records))
    if manager.selection.strict and any(r.status == "load-error" for r in manager.records):
        raise click.exceptions.Exit(exitcodes.FAILURE)


def _check_names(manager: Any, names: tuple[str, ...]) -> None:
    import difflib

    from snapkit.errors import UsageError
    from snapkit.manager import normalize_name

    known: set[str] = set()
    for record in manager.records:
        known.add(normalize_name(record.name))
        if record.distribution:
            known.add(normalize_name(record.distribution))
    for name in names:
        if normalize_name(name) not in known:
            close = difflib.get_close_matches(normalize_name(name), sorted(known), n=1)
            raise UsageError(
                f"no plugin is called {name!r}",
                hint=f"did you mean {close[0]!r}?"
                if close
                else "'snapkit plugins list' shows the installed plugins",
            )


LOAD_FAILURES = frozenset({"load-error", "register-error"})
"""Problem codes of plugins that failed to import or register: errors only in strict mode."""


def _cache_problems(manager: Any) -> list[Any]:
    """``[cache]``: an unknown kind, or settings its backend's schema refuses."""
    config = manager.config
    if config is None or config.cache_kind is None:
        return []
    from snapkit.cache import cache_problem, validate_cache_config
    from snapkit.errors import ConfigError
    from snapkit.manager import Problem

    problem = cache_problem(manager, config.cache_kind)
    if problem is not None:
        return [Problem("config", "unknown-cache-backend", problem)]
    try:
        validate_cache_config(config, manager)
    except ConfigError as exc:
        return [Problem("config", "invalid-cache-settings", str(exc))]
    return []


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _summary(manager: Any, problems: list[Any], counted: list[Any]) -> str:
    """One line: plugins loaded, and either "no problems" or how many and which count."""
    loaded = _count(sum(1 for r in manager.records if r.status == "ok"), "plugin")
    if not problems:
        return f"{loaded} loaded, config checked: no problems"
    ignored = len(problems) - len(counted)
    tail = f" ({_count(ignored, 'load failure')} not counted without --strict)" if ignored else ""
    if not counted:
        return f"{loaded} loaded, config checked: no problems to fix{tail}"
    return f"{loaded} loaded, config checked: {_count(len(counted), 'problem')} to fix{tail}"


@plugins.command("validate")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--strict", is_flag=True, help="Exit 1 also when a plugin failed to import or register."
)
@click.pass_obj
def validate(state: object, names: tuple[str, ...], as_json: bool, strict: bool) -> None:
    """Check plugins and the config: hooks against the specs (unknown names, signatures),
    duplicate keys, settings and payload schemas, oracle dependencies (unknown, cycles), and
    each plugin section of the config (and the store) against its plugin's settings schema.

    NAMES limits the report to those plugins (entry-point or distribution names). Exits 1 when
    problems are found. A plugin that failed to import or register is reported; it makes the
    exit code 1 only with --strict (or in strict mode).
    """
    from snapkit.validation import validate_plugins

    manager = _manager(state)
    _check_names(manager, names)
    problems = validate_plugins(manager, names)
    if not names:
        from snapkit.config_check import config_problems

        if manager.config is not None:
            problems += config_problems(manager.config, manager)
        problems += _cache_problems(manager)
    strict = strict or manager.selection.strict
    counted = problems if strict else [p for p in problems if p.code not in LOAD_FAILURES]
    if as_json:
        _echo_json(
            {
                "ok": not counted,
                "strict": strict,
                "problems": [
                    {"plugin": p.plugin, "code": p.code, "message": p.message} for p in problems
                ],
            }
        )
    else:
        for p in problems:
            click.echo(f"{p.plugin}: {p.code}: {p.message}")
        click.echo(_summary(manager, problems, counted))
    if counted:
        raise click.exceptions.Exit(exitcodes.FAILURE)
