"""``snapkit new plugin NAME``: write a plugin distribution to start from."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("new")
def new() -> None:
    """Start something new from a template."""


@new.command("plugin")
@click.argument("name")
@click.option(
    "--kind",
    "kinds",
    default="oracle,projection",
    show_default=True,
    help="Comma-separated kinds: oracle, projection, dataset, diff_section, store, "
    "cache_backend, serializer, search_view (a dataset brings a projection, "
    "which brings an oracle).",
)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path),
    default=None,
    help="Where to write the package (default: ./snapkit-NAME); must be empty.",
)
def plugin(name: str, kinds: str, folder: Path | None) -> None:
    """Write a plugin package: pyproject with its entry point, one implementation of each
    chosen kind, tests that use the testing kit, and a README.

    NAME is lowercase words joined by '-' (e.g. acme-crm): the distribution is
    snapkit-NAME, the package snapkit_NAME and the plugin's keys NAME.
    """
    from snapkit.scaffold import plan_plugin, write_plugin

    chosen = plan_plugin(name, [k for k in kinds.split(",") if k.strip()])
    target = folder or Path(chosen.distribution)
    written = write_plugin(chosen, target)
    click.echo(
        f"wrote {chosen.distribution} ({', '.join(chosen.kinds)}) in {target}: {len(written)} files"
    )
    click.echo(f"next: cd {target} && pip install -e '.[test]' && pytest")
