"""The ``snapkit`` command group, lazy subcommand loading, and error handling.

Errors are printed as one line naming what is wrong and what to do, with the exit codes of
:mod:`snapkit.exitcodes`; ``--debug`` (or ``SNAPKIT_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from snapkit import __version__, exitcodes

if TYPE_CHECKING:
    from snapkit.project import Project

# name -> (module, attribute, one-line help). Only the chosen command's module is imported.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "plugins": ("snapkit.cli.plugins_cmd", "plugins", "List and validate installed plugins."),
    "init": ("snapkit.cli.init_cmd", "init", "Write a commented starting snapkit.toml."),
    "refresh": ("snapkit.cli.refresh_cmd", "refresh", "Fetch data and commit a snapshot."),
    "snapshots": (
        "snapkit.cli.snapshots_cmd",
        "snapshots",
        "List, show, verify and prune snapshots.",
    ),
    "diff": ("snapkit.cli.diff_cmd", "diff", "Show what changed between two snapshots."),
    "search": ("snapkit.cli.search_cmd", "search", "Find rows in a snapshot's tables."),
    "project": ("snapkit.cli.project_cmd", "project", "Derive projections from a snapshot."),
    "export": ("snapkit.cli.export_cmd", "export", "Export a snapshot as a ZIP of datasets."),
    "serve": (
        "snapkit.cli.serve_cmd",
        "serve",
        "Serve the read API, admin refresh and pages over HTTP.",
    ),
    "demo": ("snapkit.cli.demo_cmd", "demo", "Run the guided demo end to end."),
    "new": ("snapkit.cli.new_cmd", "new", "Start a plugin package from a template."),
}


class State:
    """What every command shares: the config path and the project, loaded on first use."""

    def __init__(self, config: Path | None, debug: bool) -> None:
        self.config_path = config
        self.debug = debug
        self._project: Project | None = None

    def project(self) -> Project:
        """Load the project (config, plugins, store) once."""
        if self._project is None:
            from snapkit.project import Project

            # snapkit's own process: GC pacing on (see snapkit.gcpace)
            self._project = Project.load(self.config_path, gc_pacing=True)
        return self._project

    def manager(self, quiet: bool = False) -> Any:
        """Load the config and plugins without checking plugin settings (for ``plugins``).

        :param quiet: do not log plugins that fail to load (the caller reports them).
        """
        if self._project is not None:
            return self._project.manager
        from snapkit.config import load_config
        from snapkit.manager import PluginManager

        config = load_config(self.config_path)
        manager = PluginManager(config.plugins, config, log_failures=not quiet)
        manager.load_entry_points()
        return manager


class LazyGroup(click.Group):
    """A group whose built-in commands import on use and whose plugin commands are found
    through the ``snapkit_register_commands`` hook only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr, _ = COMMANDS[name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return self._plugin_command(ctx, name)

    def _plugin_command(self, ctx: click.Context, name: str) -> click.Command | None:
        from snapkit.errors import UnknownKeyError

        # Commands are resolved before the group's callback runs: build the shared state
        # from the group's parsed options now; the callback keeps it.
        if not isinstance(ctx.obj, State):
            ctx.obj = State(ctx.params.get("config"), bool(ctx.params.get("debug")))
        state = ctx.obj
        try:
            registry = state.manager().commands
            descriptor = registry.get(name)
        except UnknownKeyError:
            return None
        command: click.Command = descriptor.factory({})
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)
        formatter.write_paragraph()
        formatter.write_text(
            "Plugins may add commands (e.g. 'snapkit oneroster'); "
            "'snapkit plugins list' shows them."
        )


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

EPILOG = """Exit codes: 0 ok; 1 failure or problems found; 2 usage or config error;
3 no snapshot (yet); 4 refresh committed a partial snapshot; 5 a refresh is already running."""


@click.group(cls=LazyGroup, epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "-c",
    type=click.Path(path_type=Path),
    envvar="SNAPKIT_CONFIG",
    help="Config file (default: the nearest snapkit.toml, or pyproject.toml with "
    "[tool.snapkit], here or in a parent folder up to the git top).",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="SNAPKIT_DEBUG",
    help="Show tracebacks instead of one-line errors.",
)
@click.option(
    "--verbose", "-v", count=True, help="Log what snapkit does to stderr: -v info, -vv debug."
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    envvar="SNAPKIT_LOG_LEVEL",
    help="Log at this level to stderr (also SNAPKIT_LOG_LEVEL); overrides -v.",
)
@click.version_option(__version__, prog_name="snapkit")
@click.pass_context
def cli(
    ctx: click.Context, config: Path | None, debug: bool, verbose: int, log_level: str | None
) -> None:
    """snapkit: data snapshots you can trust.

    Fetch data with oracle plugins, freeze it into immutable, verifiable snapshots, serve the
    last known good one, and show what changed. Start with 'snapkit demo'.
    """
    if not isinstance(ctx.obj, State):
        ctx.obj = State(config, debug)
    level = (
        log_level.upper()
        if log_level
        else ("DEBUG" if verbose >= 2 else "INFO" if verbose == 1 else None)
    )
    if level is not None:
        configure_logging(level)


def configure_logging(level: str) -> None:
    """Send log records at ``level`` and above to stderr (snapkit's and its plugins'; one
    handler, replaced on a second call). snapkit's log lines name identifiers, counts and
    statuses, never record values."""
    import logging

    class StderrHandler(logging.Handler):
        """Writes to the ``sys.stderr`` of the moment (as :data:`logging.lastResort`)."""

        snapkit_cli = True

        def emit(self, record: logging.LogRecord) -> None:
            try:
                sys.stderr.write(self.format(record) + "\n")
            except Exception:
                self.handleError(record)

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "snapkit_cli", False)]:
        root.removeHandler(old)
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; turn snapkit errors into one line and an exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("SNAPKIT_DEBUG", "") in {"1", "true"}
    try:
        result = cli.main(args=args, prog_name="snapkit", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(exitcodes.FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        from snapkit.errors import SnapkitError, describe_exception

        if debug:
            raise
        if isinstance(exc, SnapkitError):
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        # never the message of a foreign exception: it can quote record values
        click.echo(
            f"Error: unexpected {describe_exception(exc)} (run with --debug for the traceback)",
            err=True,
        )
        sys.exit(exitcodes.FAILURE)
    sys.exit(result if isinstance(result, int) else exitcodes.OK)
