"""``snapkit init``: write a commented starting configuration."""

from __future__ import annotations

from pathlib import Path

import click

TEMPLATE = """\
# snapkit configuration. Every section is optional; the values shown are the defaults.
# Check it with 'snapkit plugins validate'; see docs/configuration.md for every key.

[plugins]
# enabled = ["snapkit-file-store", "files"]   # the exact plugin set (entry-point or
#                                             # distribution names); default: all installed
# blocked = []                                # never load these
# autoload = true                             # false: discover no plugins (hosts register)
# strict = false                              # true: a plugin that fails to load is an error

[store]
kind = "file"                 # the snapshot store plugin
path = "snapkit-data"         # relative paths are relative to this file

[scope]
namespace = "{namespace}"     # what the snapshots are of (letters, digits, . _ -)
# context = "class-123"
# container = "unit-4"
# filters = { completion_threshold = 80 }

[refresh]
# oracles = []                # which oracles to run (plus what they require); default: all
# concurrency = 4             # independent oracles run in parallel, at most this many
# timeout = 60                # seconds per oracle call
# deadline = 1800             # seconds for the whole refresh
# attempts = 3                # tries per oracle on transient errors, exponential backoff
# partial_moves_pointer = false   # does a partial snapshot become current?
# schema_version = "1"
# calculation_version = "1"

# Per-plugin settings go under the plugin's kind and key. Secrets are never written here:
# { env = "NAME" } reads the environment variable NAME.
#
# [oracles.users]
# path = "data/users.jsonl"
# token = { env = "USERS_API_TOKEN" }

[serve]
# host = "127.0.0.1"
# port = 8750
# token = { env = "SNAPKIT_ADMIN_TOKEN" }   # bearer token for POST /api/admin/refresh
"""


@click.command()
@click.option(
    "--path",
    "-p",
    type=click.Path(path_type=Path),
    default=Path("snapkit.toml"),
    show_default=True,
    help="Where to write the config.",
)
@click.option("--namespace", default="default", show_default=True, help="The scope's namespace.")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: Path, namespace: str, force: bool) -> None:
    """Write a commented starting snapkit.toml."""
    from snapkit.errors import InvalidIdentifierError, UsageError
    from snapkit.identifiers import check_name

    try:
        check_name(namespace, "namespace")
    except InvalidIdentifierError as exc:
        raise UsageError(f"--namespace: {exc.message}", hint=exc.hint) from None
    if path.exists() and not force:
        raise UsageError(f"{path} already exists", hint="use --force to overwrite it")
    path.write_text(TEMPLATE.replace("{namespace}", namespace), encoding="utf-8")
    click.echo(f"Wrote {path}. Next: 'snapkit plugins list', then 'snapkit refresh'.")
