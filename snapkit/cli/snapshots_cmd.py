"""``snapkit snapshots list|show|current|verify|prune``. Reads never trigger a fetch."""

from __future__ import annotations

import datetime as _dt
from typing import TYPE_CHECKING, Any

import click

from snapkit import exitcodes
from snapkit.cli.output import echo_json, echo_table, short

if TYPE_CHECKING:
    from snapkit.contracts import SnapshotManifest


@click.group()
def snapshots() -> None:
    """List, show, verify, prune and copy snapshots. These commands never fetch data.

    A REF is a snapshot id or a unique prefix of it, 'current', 'current~N' (the snapshot the
    current pointer named N moves back), 'latest' (newest of any status) or a date YYYY-MM-DD
    (the last snapshot of that UTC day that became current).
    """


def _date(value: str | None) -> _dt.datetime | None:
    if value is None:
        return None
    from snapkit.contracts import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or time") from None


@snapshots.command("list")
@click.option(
    "--status",
    type=click.Choice(["success", "partial", "failed"]),
    multiple=True,
    help="Only these statuses; repeatable.",
)
@click.option("--namespace", help="Only this namespace.")
@click.option("--since", help="Only snapshots created at or after this ISO date/time (UTC).")
@click.option("--until", help="Only snapshots created before this ISO date/time (UTC).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def list_snapshots(
    state: object,
    status: tuple[str, ...],
    namespace: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List snapshots, newest first.

    A success or partial snapshot the current pointer never named (it lost the race to
    another commit, or was not allowed to move the pointer) shows as '(never current)';
    --json gives it as "became_current": false.
    """
    from snapkit.store import ListFilter

    project = state.project()  # type: ignore[attr-defined]
    filters = ListFilter(status=status, namespace=namespace, since=_date(since), until=_date(until))
    infos = project.snapshots(filters, limit)
    pointer = project.store.read_pointer()
    if as_json:
        echo_json(infos)
        return
    if not infos:
        missing = project.missing_store_location()
        where = f" in {missing} (the store does not exist yet)" if missing else ""
        click.echo(f"No snapshots yet{where}. Run 'snapkit refresh'.")
        return
    current = pointer.snapshot_id if pointer else None
    echo_table(
        ("", "id", "created_at", "status", "records", "parts", "errors", "namespace"),
        [
            (
                "*" if i.id == current else "",
                short(i.id),
                i.created_at[:19] + "Z",
                _status(i),
                f"{i.record_count:,}",
                i.part_count,
                i.error_count,
                i.namespace,
            )
            for i in infos
        ],
    )


def _ref(ref: str) -> str:
    """A problem's ref for a line: hex ids shortened, names (``history.jsonl``) kept whole."""
    return ref[:12] if len(ref) > 12 and all(c in "0123456789abcdef" for c in ref) else ref


def _status(info: Any) -> str:
    if info.status != "failed" and info.became_current is False:
        return f"{info.status} (never current)"
    return str(info.status)


def _show(manifest: SnapshotManifest, as_json: bool, age: float | None = None) -> None:
    from snapkit.convert import to_json

    if as_json:
        data = to_json(manifest)
        data["id"] = manifest.id
        if age is not None:
            data["age_seconds"] = round(age, 3)
        echo_json(data)
        return
    m = manifest
    click.echo(f"snapshot  {m.id}")
    click.echo(f"status    {m.status}")
    click.echo(f"created   {m.created_at}")
    if age is not None:
        click.echo(f"age       {_human(age)}")
    click.echo(
        f"scope     {m.scope.namespace}"
        + (f" / {m.scope.context}" if m.scope.context else "")
        + (f" / {m.scope.container}" if m.scope.container else "")
    )
    click.echo(f"versions  schema {m.schema_version}, calculation {m.calculation_version}")
    for status in m.oracles:
        click.echo(f"oracle    {status.key} v{status.version}: {status.status} ({status.source})")
    for part in m.parts:
        click.echo(
            f"table     {part.name}: {part.records:,} records, {part.bytes:,} bytes, "
            f"sha256 {part.sha256[:12]}"
        )
    for key in sorted(m.payloads):
        click.echo(f"payload   {key}")
    for error in m.errors:
        click.echo(f"error     {error.code}: {error.message}")


def _human(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


@snapshots.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@click.pass_obj
def show(state: object, ref: str, as_json: bool) -> None:
    """Show one snapshot's manifest: status, versions, oracles, tables, errors."""
    project = state.project()  # type: ignore[attr-defined]
    _show(project.resolve(ref), as_json)


@snapshots.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with age_seconds).")
@click.pass_obj
def current(state: object, as_json: bool) -> None:
    """Show the current snapshot (the last known good one) and its age.

    Exits 3 with 'no snapshot yet' when nothing has been committed.
    """
    from snapkit.project import age_seconds

    project = state.project()  # type: ignore[attr-defined]
    manifest = project.current()
    _show(manifest, as_json, age_seconds(manifest))


@snapshots.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def verify(state: object, as_json: bool) -> None:
    """Re-hash every manifest and part; exit 1 if anything does not match."""
    project = state.project()  # type: ignore[attr-defined]
    report = project.verify()
    if as_json:
        echo_json(
            {
                "ok": report.ok,
                "snapshots": report.snapshots,
                "parts": report.parts,
                "pointer_recovered": report.pointer_recovered,
                "problems": report.problems,
            }
        )
    else:
        if report.pointer_recovered:
            click.echo(
                "warning: the current pointer could not stand and was recovered to "
                "its last verified target (see the pointer problem)",
                err=True,
            )
        for problem in report.problems:
            click.echo(f"{problem.kind} {_ref(problem.ref)}: {problem.message}")
        verdict = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        missing = project.missing_store_location()
        if missing:
            verdict += f" (the store {missing} does not exist yet)"
        click.echo(f"verified {report.snapshots} snapshots and {report.parts} parts: {verdict}")
    if not report.ok:
        raise click.exceptions.Exit(exitcodes.FAILURE)


@snapshots.command("prune")
@click.option("--keep-last", type=click.IntRange(min=0), help="Keep the N newest snapshots.")
@click.option(
    "--keep-daily",
    type=click.IntRange(min=0),
    help="Keep the newest snapshot of each of the last D days (UTC).",
)
@click.option(
    "--max-age",
    "max_age",
    type=click.FloatRange(min=0),
    metavar="DAYS",
    help="Remove snapshots older than DAYS unless another rule keeps them.",
)
@click.option("--dry-run", is_flag=True, help="Only say what would be removed and why.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def prune(
    state: object,
    keep_last: int | None,
    keep_daily: int | None,
    max_age: float | None,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Remove old snapshots by a retention policy, and the parts no kept snapshot uses.

    The current snapshot, the last success and the newest failed run are always kept.
    """
    from snapkit.errors import UsageError
    from snapkit.store import RetentionPolicy

    if keep_last is None and keep_daily is None and max_age is None:
        raise UsageError(
            "prune needs a policy", hint="give --keep-last, --keep-daily and/or --max-age"
        )
    project = state.project()  # type: ignore[attr-defined]
    report = project.prune(RetentionPolicy(keep_last, keep_daily, max_age), dry_run=dry_run)
    if as_json:
        echo_json(report)
        return
    for d in report.decisions:
        verb = "keep  " if d.keep else ("would remove" if dry_run else "remove")
        click.echo(
            f"{verb} {short(d.snapshot_id)} {d.created_at[:19]}Z {d.status:<7} "
            + "; ".join(d.reasons)
        )
    action = "would remove" if dry_run else "removed"
    click.echo(
        f"{action} {report.removed_snapshots} snapshot(s) and {report.removed_parts} "
        f"part(s), {report.freed_bytes:,} bytes"
    )


@snapshots.command("copy")
@click.option(
    "--to",
    "to",
    required=True,
    metavar="CONFIG_OR_STORE",
    help="The target: a config file (its [store]), or KIND:PATH / KIND:DSN, e.g. "
    "sqlite:store.sqlite3, file:backup, postgresql:postgresql://host/db.",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@click.pass_obj
def copy(state: object, to: str, quiet: bool) -> None:
    """Copy every snapshot, the history and the pointer into another store.

    Ids stay the same. Run it again after an interruption: it copies only what is missing.
    The target must be empty or hold an earlier copy of this store; it is verified at the end
    (exit 1 if anything does not match).
    """
    from snapkit.copy import copy_store, open_target

    project = state.project()  # type: ignore[attr-defined]
    target = open_target(to, project)

    def progress(line: str) -> None:
        if not quiet:
            click.echo(line)

    try:
        report = copy_store(
            project.store, target.store, kind=target.kind, where=target.where, progress=progress
        )
    finally:
        close = getattr(target.store, "close", None)
        if callable(close):
            close()
    pointer = f", current {short(report.pointer)}" if report.pointer else ""
    click.echo(
        f"copied {report.copied} of {report.snapshots} snapshot(s) and "
        f"{report.history_appended} history entries to {target.where}{pointer}; "
        f"verified ({report.parts_checked} parts re-hashed)"
    )
